// Drag-and-drop and picker upload of several files at once, each checked locally (content, size) and then sent
// with its own progress bar. Refusals show the server's own words (413, 415, 422, 429 …).

import { Link } from '@tanstack/react-router'
import { useId, useRef, useState, type DragEvent } from 'react'
import { ACCEPT_ATTRIBUTE, ACCEPTED_DESCRIPTION, MAX_UPLOAD_BYTES } from '../lib/files'
import { formatBytes } from '../lib/format'
import { useUploads, type UploadItem } from '../lib/uploads'

export function UploadPanel() {
  const { items, addFiles, clearFinished } = useUploads()
  const [dragging, setDragging] = useState(false)
  const inputRef = useRef<HTMLInputElement>(null)
  const descriptionId = useId()

  const onDrop = (event: DragEvent<HTMLDivElement>) => {
    event.preventDefault()
    setDragging(false)
    if (event.dataTransfer.files.length > 0) addFiles(event.dataTransfer.files)
  }

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
      {state.phase === 'queued' && <p className="muted">Waiting…</p>}
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
