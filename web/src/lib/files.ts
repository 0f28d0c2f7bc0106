// Client-side checks before an upload, mirroring the server (DESIGN §4): the format is decided by the file's
// first bytes, never by its name or declared type (JPEG, PNG, WebP, GIF), and at most 50 MiB. The server
// checks again; this only spares the user a useless upload and gives the same answer sooner.

export type ImageKind = 'jpeg' | 'png' | 'webp' | 'gif'

export const MAX_UPLOAD_BYTES = 50 * 1024 * 1024
export const ACCEPTED_DESCRIPTION = 'JPEG, PNG, WebP or GIF'
// For the picker's filter only; the bytes decide.
export const ACCEPT_ATTRIBUTE = 'image/jpeg,image/png,image/webp,image/gif,.jpg,.jpeg,.png,.webp,.gif'

function startsWith(bytes: Uint8Array, magic: readonly number[], offset = 0): boolean {
  if (bytes.length < offset + magic.length) return false
  return magic.every((b, i) => bytes[offset + i] === b)
}

const ascii = (s: string) => Array.from(s, (c) => c.charCodeAt(0))

export function sniffImageKind(bytes: Uint8Array): ImageKind | null {
  if (startsWith(bytes, [0xff, 0xd8, 0xff])) return 'jpeg'
  if (startsWith(bytes, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) return 'png'
  if (startsWith(bytes, ascii('RIFF')) && startsWith(bytes, ascii('WEBP'), 8)) return 'webp'
  if (startsWith(bytes, ascii('GIF87a')) || startsWith(bytes, ascii('GIF89a'))) return 'gif'
  return null
}

export type FileCheck = { ok: true; kind: ImageKind } | { ok: false; reason: string }

export interface FileLike {
  name: string
  size: number
  slice(start?: number, end?: number): Blob
}

export async function checkImageFile(file: FileLike, maxBytes = MAX_UPLOAD_BYTES): Promise<FileCheck> {
  if (file.size === 0) return { ok: false, reason: 'The file is empty.' }
  if (file.size > maxBytes) {
    return { ok: false, reason: `The file exceeds the ${Math.round(maxBytes / (1024 * 1024))} MiB limit.` }
  }
  const head = new Uint8Array(await file.slice(0, 16).arrayBuffer())
  const kind = sniffImageKind(head)
  if (!kind) {
    return {
      ok: false,
      reason: `Only ${ACCEPTED_DESCRIPTION} images are accepted; the file's content is not one of them.`,
    }
  }
  return { ok: true, kind }
}
