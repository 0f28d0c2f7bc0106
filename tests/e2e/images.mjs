// Test images, made fresh for each run: a JPEG with readable text and EXIF (GPS included) rendered by the
// libvips CLI and tagged by exiftool, and a PNG encoded here (no tool needed) for the "PNG named .txt" case.

import { execFileSync } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { deflateSync } from 'node:zlib'

export const INVOICE_LINES = ['INVOICE 2041', 'Total amount due 1250 EUR', 'Payment within thirty days']

function run(command, args) {
  execFileSync(command, args, { stdio: ['ignore', 'ignore', 'pipe'], timeout: 60_000 })
}

// Black text on white, 1100 × 420, with camera EXIF and a GPS position.
export function makeInvoiceJpeg(dir) {
  const mask = join(dir, 'text.v')
  const inverted = join(dir, 'inverted.v')
  const canvas = join(dir, 'canvas.v')
  const srgb = join(dir, 'srgb.v')
  const out = join(dir, 'invoice-2041.jpg')
  run('vips', ['text', mask, INVOICE_LINES.join('\n'), '--dpi', '200', '--font', 'DejaVu Sans 16'])
  run('vips', ['invert', mask, inverted])
  run('vips', ['embed', inverted, canvas, '60', '60', '1100', '420', '--extend', 'white'])
  run('vips', ['colourspace', canvas, srgb, 'srgb'])
  run('vips', ['jpegsave', srgb, out, '--Q', '90'])
  run('exiftool', [
    '-q',
    '-overwrite_original',
    '-Make=E2ECam',
    '-Model=Browser Test 1',
    '-DateTimeOriginal=2026:01:05 10:12:03',
    '-ISO=200',
    '-ExposureTime=0.008',
    '-GPSLatitude=52.5163',
    '-GPSLatitudeRef=N',
    '-GPSLongitude=13.3777',
    '-GPSLongitudeRef=E',
    out,
  ])
  return out
}

const CRC_TABLE = (() => {
  const table = new Uint32Array(256)
  for (let n = 0; n < 256; n++) {
    let c = n
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1
    table[n] = c >>> 0
  }
  return table
})()

function crc32(bytes) {
  let c = 0xffffffff
  for (const b of bytes) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8)
  return (c ^ 0xffffffff) >>> 0
}

function chunk(type, data) {
  const length = Buffer.alloc(4)
  length.writeUInt32BE(data.length)
  const typed = Buffer.concat([Buffer.from(type, 'ascii'), data])
  const crc = Buffer.alloc(4)
  crc.writeUInt32BE(crc32(typed))
  return Buffer.concat([length, typed, crc])
}

// An RGB PNG with a colourful diagonal gradient and a few solid blocks (something a gallery can show).
export function makeGradientPng(path, width = 480, height = 320) {
  const raw = Buffer.alloc((width * 3 + 1) * height)
  for (let y = 0; y < height; y++) {
    const row = y * (width * 3 + 1)
    raw[row] = 0 // filter: none
    for (let x = 0; x < width; x++) {
      const i = row + 1 + x * 3
      const block = (Math.floor(x / 80) + Math.floor(y / 80)) % 5 === 0
      raw[i] = block ? 240 : Math.round((x / width) * 255)
      raw[i + 1] = block ? 190 : Math.round((y / height) * 200)
      raw[i + 2] = block ? 40 : 255 - Math.round((x / width) * 180)
    }
  }
  const header = Buffer.alloc(13)
  header.writeUInt32BE(width, 0)
  header.writeUInt32BE(height, 4)
  header[8] = 8 // bit depth
  header[9] = 2 // colour type: RGB
  const png = Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', header),
    chunk('IDAT', deflateSync(raw)),
    chunk('IEND', Buffer.alloc(0)),
  ])
  writeFileSync(path, png)
  return path
}
