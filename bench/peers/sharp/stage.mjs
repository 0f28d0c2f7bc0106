// The image stage written with sharp 0.35, the way a Node service would: the same outputs with the same
// settings as imaging::process_image (src/imaging/pipeline.cpp), for bench/run to compare with
// build/release/bench/image_stage_bench.
//
//   node bench/peers/sharp/stage.mjs [--concurrency C] [--iterations N] [--out DIR] FILE...
//
// Per file: the header (metadata(): size, orientation, EXIF, parsed with exif-reader), thumbnails that fit
// 1024/512/128 px boxes (auto-oriented, sRGB, never upscaled, lanczos3; 1024 shrinks on load, 512 and 128 are
// derived from the 1024 pixels: one decode for all three), WebP Q75 effort 4; the full-resolution WebP Q80
// effort 4 (auto-oriented, sRGB, a sequential read); metadata stripped (sharp's default); dominant colours
// (k-means in CIE L*a*b* over <= 64x64), a 4x3 BlurHash of <= 32x32 on white and a 64-bit DCT pHash of 32x32
// grey, all from the 128 px thumbnail, as ours. The thumbnail chain and the full-resolution encode run at
// once (Promise.all), as an idiomatic sharp service would; C images are in flight at a time. Prints one JSON
// object shaped like image_stage_bench's.
import { mkdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { encode as blurhashEncode } from 'blurhash';
import exifReader from 'exif-reader';
import sharp from 'sharp';

const WEBP_MAX = 16383;
const BOXES = [1024, 512, 128];

function parseArgs(argv) {
  const args = { concurrency: 1, iterations: 1, out: '', files: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--concurrency') args.concurrency = Number(argv[++i]);
    else if (a === '--iterations') args.iterations = Number(argv[++i]);
    else if (a === '--out') args.out = argv[++i];
    else if (a.startsWith('--')) throw new Error(`unknown option ${a}`);
    else args.files.push(a);
  }
  if (args.files.length === 0) throw new Error('no input files');
  if (!(args.concurrency >= 1 && args.concurrency <= 64)) throw new Error('--concurrency must be in [1, 64]');
  if (!(args.iterations >= 1 && args.iterations <= 10000)) throw new Error('--iterations must be in [1, 10000]');
  return args;
}

// The box a w x h image fits into without upscaling (as fit_within in pipeline.cpp).
function fitWithin(width, height, box) {
  if (width <= box && height <= box) return { width, height };
  if (width >= height) return { width: box, height: Math.max(1, Math.round((height * box) / width)) };
  return { width: Math.max(1, Math.round((width * box) / height)), height: box };
}

const srgbToLinear = (v) => (v <= 0.04045 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4);
function rgbToLab(r, g, b) {
  const R = srgbToLinear(r / 255), G = srgbToLinear(g / 255), B = srgbToLinear(b / 255);
  const x = (0.4124564 * R + 0.3575761 * G + 0.1804375 * B) / 0.95047;
  const y = 0.2126729 * R + 0.7151522 * G + 0.072175 * B;
  const z = (0.0193339 * R + 0.119192 * G + 0.9503041 * B) / 1.08883;
  const f = (t) => (t > 216 / 24389 ? Math.cbrt(t) : (24389 / 27 * t + 16) / 116);
  return [116 * f(y) - 16, 500 * (f(x) - f(y)), 200 * (f(y) - f(z))];
}

// k-means++ (fixed seed) then Lloyd iterations in L*a*b*, 5 colours, ordered by population.
function dominantColours({ data, info }) {
  const px = [];
  for (let i = 0; i + info.channels <= data.length; i += info.channels) {
    if (info.channels === 4 && data[i + 3] < 128) continue;
    px.push([data[i], data[i + 1], data[i + 2], ...rgbToLab(data[i], data[i + 1], data[i + 2])]);
  }
  if (px.length === 0) return [];
  let seed = 12345;
  const random = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
  const d2 = (p, c) => (p[3] - c[0]) ** 2 + (p[4] - c[1]) ** 2 + (p[5] - c[2]) ** 2;
  const centres = [px[Math.floor(random() * px.length)].slice(3)];
  while (centres.length < 5) {
    const dist = px.map((p) => Math.min(...centres.map((c) => d2(p, c))));
    const total = dist.reduce((a, b) => a + b, 0);
    if (total === 0) break;
    let pick = random() * total, k = 0;
    while (pick > dist[k] && k < px.length - 1) pick -= dist[k++];
    centres.push(px[k].slice(3));
  }
  const assign = new Int32Array(px.length);
  for (let iter = 0; iter < 20; iter++) {
    px.forEach((p, i) => {
      let best = 0;
      for (let c = 1; c < centres.length; c++) if (d2(p, centres[c]) < d2(p, centres[best])) best = c;
      assign[i] = best;
    });
    const sums = centres.map(() => [0, 0, 0, 0]);
    px.forEach((p, i) => { const s = sums[assign[i]]; s[0] += p[3]; s[1] += p[4]; s[2] += p[5]; s[3]++; });
    sums.forEach((s, c) => { if (s[3]) centres[c] = [s[0] / s[3], s[1] / s[3], s[2] / s[3]]; });
  }
  const groups = centres.map(() => ({ r: 0, g: 0, b: 0, n: 0 }));
  px.forEach((p, i) => { const g = groups[assign[i]]; g.r += p[0]; g.g += p[1]; g.b += p[2]; g.n++; });
  const hex = (v) => Math.round(v).toString(16).padStart(2, '0').toUpperCase();
  return groups.filter((g) => g.n > 0).sort((a, b) => b.n - a.n)
    .map((g) => `#${hex(g.r / g.n)}${hex(g.g / g.n)}${hex(g.b / g.n)}`);
}

// 2-D DCT-II of 32x32 grey, the 8x8 block after the DC row and column, bits above the median.
function phash(grey) {
  const N = 32, cos = new Float64Array(N * N);
  for (let k = 0; k < N; k++) for (let n = 0; n < N; n++) cos[k * N + n] = Math.cos((Math.PI / N) * (n + 0.5) * k);
  const coeff = [];
  for (let u = 1; u <= 8; u++) {
    for (let v = 1; v <= 8; v++) {
      let s = 0;
      for (let y = 0; y < N; y++) for (let x = 0; x < N; x++) s += grey[y * N + x] * cos[u * N + y] * cos[v * N + x];
      coeff.push(s);
    }
  }
  const median = [...coeff].sort((a, b) => a - b)[32];
  let hash = 0n;
  coeff.forEach((c, i) => { if (c > median) hash |= 1n << BigInt(63 - i); });
  return hash.toString(16).padStart(16, '0');
}

function gpsOf(exif) {
  const g = exif?.GPSInfo;
  if (!g?.GPSLatitude || !g?.GPSLongitude) return undefined;
  const deg = ([d, m, s]) => d + m / 60 + s / 3600;
  return { lat: deg(g.GPSLatitude) * (g.GPSLatitudeRef === 'S' ? -1 : 1),
           lon: deg(g.GPSLongitude) * (g.GPSLongitudeRef === 'W' ? -1 : 1) };
}

const options = { failOn: 'truncated', limitInputPixels: 100_000_000 };
const orient = (image) => (typeof image.autoOrient === 'function' ? image.autoOrient() : image.rotate());

async function thumbnails(file, uprightWidth, uprightHeight, outDir) {
  const outputs = [];
  let current = await orient(sharp(file, options))
    .resize({ width: BOXES[0], height: BOXES[0], fit: 'inside', withoutEnlargement: true })
    .toColourspace('srgb').raw().toBuffer({ resolveWithObject: true });
  const raws = [current];
  for (const box of BOXES.slice(1)) {
    const target = fitWithin(uprightWidth, uprightHeight, box);
    const width = Math.min(target.width, current.info.width), height = Math.min(target.height, current.info.height);
    if (width !== current.info.width || height !== current.info.height) {
      current = await sharp(current.data, { raw: current.info })
        .resize({ width, height, fit: 'fill', kernel: 'lanczos3' }).raw().toBuffer({ resolveWithObject: true });
    }
    raws.push(current);
  }
  for (let i = BOXES.length - 1; i >= 0; i--) {
    const name = `thumb-${BOXES[i]}`, { data, info } = raws[i];
    const written = await sharp(data, { raw: info }).webp({ quality: 75, effort: 4 })
      .toFile(path.join(outDir, `${name}.webp`));
    outputs.push({ name, format: 'webp', width: written.width, height: written.height, bytes: written.size });
  }
  const smallest = raws[raws.length - 1];
  const raw = () => sharp(smallest.data, { raw: smallest.info });
  const palette = await raw().resize({ width: 64, height: 64, fit: 'inside' }).raw().toBuffer({ resolveWithObject: true });
  const blur = await raw().resize({ width: 32, height: 32, fit: 'inside' }).flatten({ background: '#ffffff' })
    .ensureAlpha().raw().toBuffer({ resolveWithObject: true });
  const grey = await raw().flatten({ background: '#ffffff' }).resize({ width: 32, height: 32, fit: 'fill' })
    .greyscale().raw().toBuffer();
  return {
    outputs,
    dominantColors: dominantColours(palette),
    blurhash: blurhashEncode(new Uint8ClampedArray(blur.data), blur.info.width, blur.info.height, 4, 3),
    phash: phash(Array.from(grey)),
  };
}

async function optimized(file, uprightWidth, uprightHeight, outDir) {
  let image = orient(sharp(file, { ...options, sequentialRead: true }));
  if (Math.max(uprightWidth, uprightHeight) > WEBP_MAX) {
    image = image.resize({ width: WEBP_MAX, height: WEBP_MAX, fit: 'inside', withoutEnlargement: true });
  }
  const written = await image.toColourspace('srgb').webp({ quality: 80, effort: 4 })
    .toFile(path.join(outDir, 'optimized.webp'));
  return { name: 'optimized', format: 'webp', width: written.width, height: written.height, bytes: written.size };
}

async function processImage(file, outDir) {
  const header = await sharp(file, options).metadata();  // header only, like probe_image
  if (header.width * header.height * (header.pages ?? 1) > options.limitInputPixels) throw new Error('too many pixels');
  const swapped = (header.orientation ?? 1) >= 5;
  const width = swapped ? header.height : header.width, height = swapped ? header.width : header.height;
  await mkdir(outDir, { recursive: true });
  const exif = header.exif ? exifReader(header.exif) : undefined;
  const [thumbs, full] = await Promise.all([thumbnails(file, width, height, outDir),
                                            optimized(file, width, height, outDir)]);
  const gps = gpsOf(exif);
  const exifTags = exif ? Object.keys({ ...exif.Image, ...exif.Photo }).length : 0;
  return { file: path.basename(file), outputs: [...thumbs.outputs, full], width, height,
           dominantColors: thumbs.dominantColors, exifTags, gps: gps !== undefined,
           blurhash: thumbs.blurhash, phash: thumbs.phash };
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const ownOut = !args.out;
  const out = args.out || path.join(os.tmpdir(), `image-stage-sharp-${process.pid}`);
  const work = [];
  for (let n = 0; n < args.iterations; n++) args.files.forEach((_, f) => work.push(f));
  const last = new Array(args.files.length);
  let next = 0;
  const usage0 = process.resourceUsage();
  const t0 = performance.now();
  let wall, cpu, usage;
  try {
    await Promise.all(Array.from({ length: args.concurrency }, async (_, slot) => {
      for (let i = next++; i < work.length; i = next++) {
        const file = args.files[work[i]];
        last[work[i]] = await processImage(file, path.join(out, String(slot), path.parse(file).name));
      }
    }));
    wall = (performance.now() - t0) / 1000;
    usage = process.resourceUsage();
    cpu = (usage.userCPUTime - usage0.userCPUTime + usage.systemCPUTime - usage0.systemCPUTime) / 1e6;
  } finally {
    if (ownOut) await rm(out, { recursive: true, force: true });  // also when an image failed (not timed)
  }
  console.log(JSON.stringify({
    peer: 'sharp', concurrency: args.concurrency, images: work.length, wallSeconds: wall, cpuSeconds: cpu,
    imagesPerSecond: work.length / wall, cpuSecondsPerImage: cpu / work.length, peakRssKiB: usage.maxRSS,
    libvips: sharp.versions.vips, sharp: sharp.versions.sharp, vipsThreads: sharp.concurrency(), files: last,
  }));
}

main().catch((e) => { console.error(`stage.mjs: ${e.stack ?? e}`); process.exit(1); });
