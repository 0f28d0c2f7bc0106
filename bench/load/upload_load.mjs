// Open-loop upload generator: starts uploads at a constant arrival rate whatever the server's answers (a
// closed loop would slow down with the server and hide its queueing), through the real API
// (POST /api/images/upload, multipart field `file`, the body streamed from disk). Node.js built-ins only.
//
//   node bench/load/upload_load.mjs --url http://127.0.0.1:PORT --token JWT --rate PER_SECOND
//        --count N [--max-in-flight 64] FILE...
//
// Upload i starts at start + i / rate (files round robin). An upload that would exceed --max-in-flight is not
// sent and is counted as skipped (the bound keeps a stalled server from piling up sockets). Prints one JSON
// object: per upload {i, file, scheduledMs, sentMs, answeredMs, status, jobId} (epoch milliseconds), the
// achieved rate, how late the sends were, and counts by status. Loopback only; N and the rate bound the run.
import { createReadStream, statSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';

function parseArgs(argv) {
  const a = { url: '', token: '', rate: 1, count: 1, maxInFlight: 64, files: [] };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i];
    if (k === '--url') a.url = argv[++i];
    else if (k === '--token') a.token = argv[++i];
    else if (k === '--rate') a.rate = Number(argv[++i]);
    else if (k === '--count') a.count = Number(argv[++i]);
    else if (k === '--max-in-flight') a.maxInFlight = Number(argv[++i]);
    else if (k.startsWith('--')) throw new Error(`unknown option ${k}`);
    else a.files.push(k);
  }
  const host = new URL(a.url).hostname;
  if (!['127.0.0.1', 'localhost', '[::1]', '::1'].includes(host)) throw new Error('loopback targets only');
  if (!(a.rate > 0 && a.rate <= 1000)) throw new Error('--rate must be in (0, 1000]');
  if (!(a.count >= 1 && a.count <= 100000)) throw new Error('--count must be in [1, 100000]');
  if (a.files.length === 0) throw new Error('no files');
  return a;
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });

function upload(args, file) {
  return new Promise((resolve) => {
    const boundary = `----bench${Math.random().toString(16).slice(2)}`;
    const head = Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${path.basename(file)}"\r\n` +
      `Content-Type: application/octet-stream\r\n\r\n`);
    const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
    const length = head.length + statSync(file).size + tail.length;
    const url = new URL('/api/images/upload', args.url);
    const req = http.request(url, {
      method: 'POST', agent,
      headers: { Authorization: `Bearer ${args.token}`, 'Content-Type': `multipart/form-data; boundary=${boundary}`,
                 'Content-Length': length },
    }, (res) => {
      const chunks = [];
      // A response cut off mid-body counts as a failed upload (status 0), not a crash of the generator.
      res.on('error', (e) => resolve({ status: 0, jobId: null, error: e.message }));
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        let jobId = null;
        try { jobId = JSON.parse(Buffer.concat(chunks).toString()).id ?? null; } catch { /* not JSON */ }
        resolve({ status: res.statusCode, jobId });
      });
    });
    req.setTimeout(120000, () => req.destroy(new Error('timeout')));
    req.on('error', (e) => resolve({ status: 0, jobId: null, error: e.message }));
    req.write(head);
    const body = createReadStream(file);
    body.on('error', (e) => req.destroy(e));  // reported through req's 'error' above
    body.on('end', () => req.end(tail));
    body.pipe(req, { end: false });
  });
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const results = [];
  let inFlight = 0, skipped = 0;
  const pending = [];
  const start = Date.now() + 100;
  for (let i = 0; i < args.count; i++) {
    const scheduled = start + (i * 1000) / args.rate;
    const wait = scheduled - Date.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    if (inFlight >= args.maxInFlight) { skipped++; continue; }
    const file = args.files[i % args.files.length];
    const sent = Date.now();
    inFlight++;
    pending.push(upload(args, file).then((r) => {
      inFlight--;
      results.push({ i, file: path.basename(file), scheduledMs: scheduled, sentMs: sent, answeredMs: Date.now(), ...r });
    }));
  }
  await Promise.all(pending);
  results.sort((a, b) => a.i - b.i);
  const statuses = {};
  for (const r of results) statuses[r.status] = (statuses[r.status] ?? 0) + 1;
  const lateness = results.map((r) => r.sentMs - r.scheduledMs).sort((a, b) => a - b);
  const span = results.length > 1 ? (results.at(-1).sentMs - results[0].sentMs) / 1000 : 0;
  console.log(JSON.stringify({
    requestedRate: args.rate, achievedRate: span > 0 ? (results.length - 1) / span : null, count: args.count,
    skipped, statuses, maxLatenessMs: lateness.at(-1) ?? 0, uploads: results,
  }));
  agent.destroy();
}

main().catch((e) => { console.error(`upload_load.mjs: ${e.stack ?? e}`); process.exit(1); });
