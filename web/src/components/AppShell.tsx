import { Link, useNavigate, useRouter } from '@tanstack/react-router'
import { useEffect, useRef, type ReactNode } from 'react'
import { useLiveJobEvents } from '../lib/live'
import { useAuth, useProfile, useSignOut } from '../lib/session'
import { UploadsProvider } from '../lib/uploads'
import { Loading } from './States'

export function AppShell({ children }: { children: ReactNode }) {
  const auth = useAuth()
  return (
    <>
      <a href="#main" className="skip-link">
        Skip to content
      </a>
      <header className="topbar">
        <Link to="/" search={{ page: 1 }} className="brand">
          <span className="brand-mark" aria-hidden="true" />
          ImageProcessor
        </Link>
        {auth.status === 'signedIn' && <SignedInNav />}
      </header>
      <main id="main" className="main" tabIndex={-1}>
        {auth.status === 'signedIn' ? <SignedInArea key={auth.session.userId}>{children}</SignedInArea> : children}
      </main>
    </>
  )
}

// Lives as long as the sign-in, across pages: one event stream for live updates and the upload queue.
function SignedInArea({ children }: { children: ReactNode }) {
  const live = useLiveJobEvents()
  return (
    <UploadsProvider>
      {live === 'waiting' && (
        <p className="notice live-notice" role="status">
          Live updates are reconnecting…
        </p>
      )}
      {children}
    </UploadsProvider>
  )
}

function SignedInNav() {
  const profile = useProfile()
  const signOut = useSignOut()
  const navigate = useNavigate()
  const auth = useAuth()
  const name = profile.data?.name ?? (auth.status === 'signedIn' ? auth.session.name : '')
  return (
    <nav className="nav" aria-label="Main">
      <Link to="/" search={{ page: 1 }} activeOptions={{ exact: true, includeSearch: false }} className="nav-link">
        Gallery
      </Link>
      {profile.data?.role === 'admin' && (
        <Link to="/admin" className="nav-link" data-testid="admin-link">
          Admin
        </Link>
      )}
      <span className="nav-user" title={profile.data?.email}>
        {name}
      </span>
      <button
        type="button"
        className="button button-quiet"
        onClick={() => {
          void signOut().finally(() => void navigate({ to: '/login' }))
        }}
      >
        Sign out
      </button>
    </nav>
  )
}

// Renders its children only for a signed-in user; others are sent to the sign-in page and come back after.
export function RequireAuth({ children }: { children: ReactNode }) {
  const auth = useAuth()
  const navigate = useNavigate()
  const router = useRouter()
  const redirected = useRef(false)
  useEffect(() => {
    // Once: this component may stay mounted while the sign-in page loads, and must not redirect again from it.
    if (auth.status !== 'anonymous' || redirected.current) return
    redirected.current = true
    const here = router.state.location.href
    void navigate({ to: '/login', search: here === '/' || here.startsWith('/?') ? {} : { redirect: here }, replace: true })
  }, [auth.status, navigate, router])
  if (auth.status !== 'signedIn') return <Loading label={auth.status === 'loading' ? 'Signing you in…' : 'Redirecting to sign in…'} />
  return <>{children}</>
}
