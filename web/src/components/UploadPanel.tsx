// Drag-and-drop and picker upload of several files at once, each checked locally (content, size) and then sent
// with its own progress bar. Refusals show the server's own words (413, 415, 422, 429 …).

import { useQueryClient } from '@tanstack/react-query'
import { Link } from '@tanstack/react-router'
import { useCallback, useEffect, useId, useRef, useState, type DragEvent } from 'react'
import { uploadImage } from '../lib/api'
import { ACCEPT_ATTRIBUTE, ACCEPTED_DESCRIPTION, checkImageFile, MAX_UPLOAD_BYTES } from '../lib/files'
import { formatBytes } from '../lib/format'
import { queryKeys } from '../lib/live'
import { ApiError, errorMessage } from '../lib/problem'
import { useApi } from '../lib/session'

type UploadState =
  | { phase: 'checking' }
  | { phase: 'uploading'; loaded: number; total: number }
  | { phase: 'done'; jobId: string }
  | { phase: 'refused'; message: string }
  | { phase: 'failed'; message: string }

interface UploadItem {
  key: string
  name: string
  size: number
  state: UploadState
}

// The server's messages are already written for people; a few get a hint of what to do.
export function uploadFailureMessage(error: unknown): string {
  if (error instanceof ApiError) {
    switch (error.status) {
      case 413:
        return `${error.detail} Choose a smaller file.`
      case 415:
        return error.detail
      case 422:
        return error.detail
      case 429:
        return errorMessage(error)
      case 0:
        return error.detail
    }
  }
  return errorMessage(error)
}

let nextKey = 0

export function UploadPanel() {
  const client = useApi()
  const queryClient = useQueryClient()
  const [items, setItems] = useState<UploadItem[]>([])
  const [dragging, setDragging] = useState(false)
  const inputRef = useRef<HTMLInputElement>(null)
  const aborts = useRef(new Map<string, () => void>())
  const descriptionId = useId()

  useEffect(() => {
    const pending = aborts.current
    return () => {
      for (const abort of pending.values()) abort()
    }
  }, [])

  const update = useCallback((key: string, state: UploadState) => {
    setItems((current) => current.map((item) => (item.key === key ? { ...item, state } : item)))
  }, [])

  const startOne = useCallback(
    async (file: File, key: string) => {
      const check = await checkImageFile(file)
      if (!check.ok) {
        update(key, { phase: 'refused', message: check.reason })
        return
      }
      update(key, { phase: 'uploading', loaded: 0, total: file.size })
      const handle = uploadImage(client, file, (loaded, total) => update(key, { phase: 'uploading', loaded, total }))
      aborts.current.set(key, handle.abort)
      try {
        const accepted = await handle.promise
        update(key, { phase: 'done', jobId: accepted.id })
        void queryClient.invalidateQueries({ queryKey: queryKeys.jobs })
      } catch (error) {
        if (error instanceof DOMException && error.name === 'AbortError') return
        const refused = error instanceof ApiError && error.status >= 400 && error.status < 500
        update(key, { phase: refused ? 'refused' : 'failed', message: uploadFailureMessage(error) })
      } finally {
        aborts.current.delete(key)
      }
    },
    [client, queryClient, update],
  )

  const addFiles = useCallback(
    (files: FileList | File[]) => {
      const list = Array.from(files)
      if (list.length === 0) return
      const added = list.map((file) => ({
        key: `u${nextKey++}`,
        name: file.name,
        size: file.size,
        state: { phase: 'checking' } as UploadState,
      }))
      setItems((current) => [...added, ...current].slice(0, 50))
      // Two at a time: progress stays meaningful and the upload rate limit is not spent in one burst.
      const queue = list.map((file, i) => ({ file, key: added[i]!.key }))
      const worker = async () => {
        for (let next = queue.shift(); next; next = queue.shift()) await startOne(next.file, next.key)
      }
      void Promise.all([worker(), worker()])
    },
    [startOne],
  )

  const onDrop = (event: DragEvent<HTMLDivElement>) => {
    event.preventDefault()
    setDragging(false)
    if (event.dataTransfer.files.length > 0) addFiles(event.dataTransfer.files)
  }

  const clearFinished = () =>
    setItems((current) => current.filter((item) => item.state.phase === 'checking' || item.state.phase === 'uploading'))

  return (
    <section className="panel upload-panel" aria-labelledby="upload-heading">
      <h2 id="upload-heading">Upload images</h2>
      <div
        className={`dropzone ${dragging ? 'is-dragging' : ''}`}
        data-testid="dropzone"
        onDragEnter={(e) => {
          e.preventDefault()
          setDragging(true)
        }}
        onDragOver={(e) => {
          e.preventDefault()
          e.dataTransfer.dropEffect = 'copy'
        }}
        onDragLeave={(e) => {
          if (e.currentTarget.contains(e.relatedTarget as Node | null)) return
          setDragging(false)
        }}
        onDrop={onDrop}
      >
        <p className="dropzone-title">Drop images here</p>
        <p className="muted" id={descriptionId}>
          {ACCEPTED_DESCRIPTION}, up to {formatBytes(MAX_UPLOAD_BYTES)} each. Several at once are fine.
        </p>
        <button type="button" className="button button-primary" onClick={() => inputRef.current?.click()}>
          Choose files…
        </button>
        <input
          ref={inputRef}
          type="file"
          multiple
          accept={ACCEPT_ATTRIBUTE}
          className="visually-hidden"
          aria-label="Choose images to upload"
          aria-describedby={descriptionId}
          data-testid="file-input"
          tabIndex={-1}
          onChange={(e) => {
            if (e.target.files) addFiles(e.target.files)
            e.target.value = ''
          }}
        />
      </div>

      {items.length > 0 && (
        <>
          <ul className="upload-list" aria-label="Uploads" aria-live="polite">
            {items.map((item) => (
              <UploadRow key={item.key} item={item} />
            ))}
          </ul>
          <button type="button" className="button button-quiet" onClick={clearFinished}>
            Clear finished
          </button>
        </>
      )}
    </section>
  )
}

function UploadRow({ item }: { item: UploadItem }) {
  const { state } = item
  return (
    <li className={`upload-item upload-${state.phase}`} data-testid="upload-item" data-phase={state.phase}>
      <div className="upload-line">
        <span className="upload-name" title={item.name}>
          {item.name}
        </span>
        <span className="muted">{formatBytes(item.size)}</span>
      </div>
      {state.phase === 'checking' && <p className="muted">Checking…</p>}
      {state.phase === 'uploading' && (
        <div className="upload-progress">
          <progress
            max={state.total || 1}
            value={state.loaded}
            aria-label={`Uploading ${item.name}`}
          />
          <span className="muted">{state.total > 0 ? Math.floor((state.loaded / state.total) * 100) : 0} %</span>
        </div>
      )}
      {state.phase === 'done' && (
        <p className="upload-ok">
          Uploaded —{' '}
          <Link to="/jobs/$id" params={{ id: state.jobId }}>
            view progress
          </Link>
        </p>
      )}
      {(state.phase === 'refused' || state.phase === 'failed') && (
        <p className="upload-error" role="alert">
          {state.message}
        </p>
      )}
    </li>
  )
}
