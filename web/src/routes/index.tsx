import { createFileRoute } from '@tanstack/react-router'
import { RequireAuth } from '../components/AppShell'
import { Gallery, type GallerySearch } from '../components/Gallery'
import { StatsCards } from '../components/StatsCards'
import { UploadPanel } from '../components/UploadPanel'
import { OVERALL_STATUSES, type OverallStatus } from '../lib/types'

export function parseGallerySearch(search: Record<string, unknown>): GallerySearch {
  const page = Number(search.page)
  const status = OVERALL_STATUSES.find((s) => s === search.status) as OverallStatus | undefined
  const q = typeof search.q === 'string' && search.q.trim() !== '' ? search.q.trim().slice(0, 200) : undefined
  return { page: Number.isInteger(page) && page >= 1 ? page : 1, status, q }
}

export const Route = createFileRoute('/')({
  validateSearch: parseGallerySearch,
  head: () => ({ meta: [{ title: 'Your images · ImageProcessor' }] }),
  component: Home,
})

function Home() {
  const search = Route.useSearch()
  return (
    <RequireAuth>
      <h1 className="visually-hidden">Upload and browse your images</h1>
      <StatsCards />
      <UploadPanel />
      <Gallery search={search} />
    </RequireAuth>
  )
}
