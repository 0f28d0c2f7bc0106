import { createFileRoute } from '@tanstack/react-router'
import { RequireAuth } from '../components/AppShell'
import { JobDetailView } from '../components/JobDetailView'

export const Route = createFileRoute('/jobs/$id')({
  head: () => ({ meta: [{ title: 'Image · ImageProcessor' }] }),
  component: JobPage,
})

function JobPage() {
  const { id } = Route.useParams()
  return (
    <RequireAuth>
      <JobDetailView id={id} />
    </RequireAuth>
  )
}
