import { describe, expect, it } from 'vitest'
import { checkImageFile, MAX_UPLOAD_BYTES, sniffImageKind } from './files'

const PNG = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, 0x49, 0x48, 0x44, 0x52]
const JPEG = [0xff, 0xd8, 0xff, 0xe0, 0, 16, 0x4a, 0x46, 0x49, 0x46, 0]
const ascii = (s: string) => Array.from(s, (c) => c.charCodeAt(0))
const WEBP = [...ascii('RIFF'), 0x24, 0, 0, 0, ...ascii('WEBPVP8 ')]
const GIF = ascii('GIF89a\x01\x00\x01\x00')

function file(name: string, bytes: number[]): File {
  return new File([new Uint8Array(bytes)], name)
}

describe('sniffImageKind', () => {
  it('recognises the four accepted formats by their first bytes', () => {
    expect(sniffImageKind(new Uint8Array(JPEG))).toBe('jpeg')
    expect(sniffImageKind(new Uint8Array(PNG))).toBe('png')
    expect(sniffImageKind(new Uint8Array(WEBP))).toBe('webp')
    expect(sniffImageKind(new Uint8Array(GIF))).toBe('gif')
    expect(sniffImageKind(new Uint8Array(ascii('GIF87a')))).toBe('gif')
  })

  it('refuses look-alikes and truncated headers', () => {
    expect(sniffImageKind(new Uint8Array(ascii('<svg xmlns="http://www.w3.org/2000/svg">')))).toBeNull()
    expect(sniffImageKind(new Uint8Array(ascii('%PDF-1.7')))).toBeNull()
    expect(sniffImageKind(new Uint8Array([...ascii('RIFF'), 0, 0, 0, 0, ...ascii('WAVE')]))).toBeNull()
    expect(sniffImageKind(new Uint8Array(PNG.slice(0, 7)))).toBeNull()
    expect(sniffImageKind(new Uint8Array([0xff, 0xd8]))).toBeNull()
    expect(sniffImageKind(new Uint8Array(ascii('GIF90a')))).toBeNull()
    expect(sniffImageKind(new Uint8Array([]))).toBeNull()
  })
})

describe('checkImageFile', () => {
  it('decides by content, not by name: a PNG named .txt is accepted', async () => {
    expect(await checkImageFile(file('notes.txt', PNG))).toEqual({ ok: true, kind: 'png' })
  })

  it('refuses a text file named .png with the server’s 415 wording', async () => {
    const result = await checkImageFile(file('photo.png', ascii('just some text, not an image')))
    expect(result).toEqual({
      ok: false,
      reason: "Only JPEG, PNG, WebP or GIF images are accepted; the file's content is not one of them.",
    })
  })

  it('refuses empty files and files above 50 MiB before reading them', async () => {
    expect(await checkImageFile(file('empty.jpg', []))).toEqual({ ok: false, reason: 'The file is empty.' })
    const huge = { name: 'huge.jpg', size: MAX_UPLOAD_BYTES + 1, slice: () => new Blob([new Uint8Array(JPEG)]) }
    expect(await checkImageFile(huge)).toEqual({ ok: false, reason: 'The file exceeds the 50 MiB limit.' })
    const exact = { name: 'max.jpg', size: MAX_UPLOAD_BYTES, slice: () => new Blob([new Uint8Array(JPEG)]) }
    expect(await checkImageFile(exact)).toEqual({ ok: true, kind: 'jpeg' })
  })
})
