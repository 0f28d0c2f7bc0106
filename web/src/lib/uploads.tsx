// The upload queue of this tab, kept above the pages so uploads go on (and their rows stay) while the user
// opens a job's detail. Files are checked locally, then sent two at a time; signing out cancels the rest.

import { useQueryClient } from '@tanstack/react-query'
import { createContext, useCallback, useContext, useEffect, useMemo, useRef, useState, type ReactNode } from 'react'
import { uploadImage } from './api'
import { checkImageFile } from './files'
import { queryKeys } from './live'
import { ApiError, errorMessage } from './problem'
import { useApi } from './session'

export type UploadState =
  | { phase: 'queued' }
  | { phase: 'checking' }
  | { phase: 'uploading'; loaded: number; total: number }
  | { phase: 'done'; jobId: string }
  | { phase: 'refused'; message: string }
  | { phase: 'failed'; message: string }

export interface UploadItem {
  key: string
  name: string
  size: number
  state: UploadState
}

// The server's messages are already written for people; a too-large file gets a hint of what to do.
export function uploadFailureMessage(error: unknown): string {
  if (error instanceof ApiError && error.status === 413) return `${error.detail} Choose a smaller file.`
  return errorMessage(error)
}

const PARALLEL_UPLOADS = 2
const MAX_ROWS = 50

interface Uploads {
  items: UploadItem[]
  addFiles: (files: FileList | File[]) => void
  clearFinished: () => void
}

const UploadsContext = createContext<Uploads | null>(null)

export function UploadsProvider({ children }: { children: ReactNode }) {
  const client = useApi()
  const queryClient = useQueryClient()
  const [items, setItems] = useState<UploadItem[]>([])
  const queue = useRef<{ file: File; key: string }[]>([])
  const running = useRef(0)
  const aborts = useRef(new Map<string, () => void>())
  const nextKey = useRef(0)

  const update = useCallback((key: string, state: UploadState) => {
    setItems((current) => current.map((item) => (item.key === key ? { ...item, state } : item)))
  }, [])

  const uploadOne = useCallback(
    async (file: File, key: string) => {
      update(key, { phase: 'checking' })
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
        if (error instanceof DOMException && error.name === 'AbortError') {
          update(key, { phase: 'failed', message: 'Cancelled.' })
          return
        }
        const refused = error instanceof ApiError && error.status >= 400 && error.status < 500
        update(key, { phase: refused ? 'refused' : 'failed', message: uploadFailureMessage(error) })
      } finally {
        aborts.current.delete(key)
      }
    },
    [client, queryClient, update],
  )

  const pump = useCallback(() => {
    while (running.current < PARALLEL_UPLOADS && queue.current.length > 0) {
      const next = queue.current.shift()!
      running.current += 1
      void uploadOne(next.file, next.key).finally(() => {
        running.current -= 1
        pump()
      })
    }
  }, [uploadOne])

  const addFiles = useCallback(
    (files: FileList | File[]) => {
      const list = Array.from(files)
      if (list.length === 0) return
      const added = list.map((file) => ({
        key: `u${nextKey.current++}`,
        name: file.name,
        size: file.size,
        state: { phase: 'queued' } as UploadState,
      }))
      setItems((current) => [...added, ...current].slice(0, MAX_ROWS))
      list.forEach((file, i) => queue.current.push({ file, key: added[i]!.key }))
      pump()
    },
    [pump],
  )

  const clearFinished = useCallback(() => {
    setItems((current) =>
      current.filter((item) => ['queued', 'checking', 'uploading'].includes(item.state.phase)),
    )
  }, [])

  // Signing out (or leaving the signed-in part of the app) cancels whatever is still queued or on its way.
  useEffect(() => {
    const pending = aborts.current
    const waiting = queue.current
    return () => {
      waiting.length = 0
      for (const abort of pending.values()) abort()
    }
  }, [])

  const value = useMemo(() => ({ items, addFiles, clearFinished }), [items, addFiles, clearFinished])
  return <UploadsContext.Provider value={value}>{children}</UploadsContext.Provider>
}

export function useUploads(): Uploads {
  const uploads = useContext(UploadsContext)
  if (!uploads) throw new Error('useUploads outside UploadsProvider')
  return uploads
}
