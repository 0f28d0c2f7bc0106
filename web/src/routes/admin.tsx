import { createFileRoute } from '@tanstack/react-router'
import { AdminView } from '../components/AdminView'
import { RequireAuth } from '../components/AppShell'
import { Loading } from '../components/States'
import { useProfile } from '../lib/session'

export const Route = createFileRoute('/admin')({
  head: () => ({ meta: [{ title: 'Operations · ImageProcessor' }] }),
  component: AdminPage,
})

function AdminPage() {
  return (
    <RequireAuth>
      <h1>Operations</h1>
      <AdminGate />
    </RequireAuth>
  )
}

function AdminGate() {
  const profile = useProfile()
  if (profile.isPending) return <Loading />
  if (profile.data?.role !== 'admin') {
    return (
      <div className="state state-error" role="alert">
        <p>This page is for administrators.</p>
      </div>
    )
  }
  return <AdminView />
}
