import { ClientOnly, createRootRoute, HeadContent, Link, Outlet, Scripts } from '@tanstack/react-router'
import type { ReactNode } from 'react'
import { AppShell } from '../components/AppShell'
import { AppProviders } from '../lib/session'
import appCss from '../styles.css?url'

export const Route = createRootRoute({
  head: () => ({
    meta: [
      { charSet: 'utf-8' },
      { name: 'viewport', content: 'width=device-width, initial-scale=1' },
      { name: 'color-scheme', content: 'light dark' },
      { name: 'description', content: 'Private image processing: thumbnails, metadata and AI analysis.' },
      { title: 'ImageProcessor' },
    ],
    links: [
      { rel: 'stylesheet', href: appCss },
      { rel: 'icon', href: '/favicon.svg', type: 'image/svg+xml' },
    ],
  }),
  shellComponent: Shell,
  component: Root,
  notFoundComponent: NotFound,
})

function Shell({ children }: { children: ReactNode }) {
  return (
    <html lang="en">
      <head>
        <HeadContent />
      </head>
      <body>
        {children}
        <Scripts />
      </body>
    </html>
  )
}

// The build prerenders only this shell (SPA mode); everything that depends on the URL or the session renders
// on the client, so hydration always matches the static HTML.
function Root() {
  return (
    <ClientOnly fallback={<Splash />}>
      <AppProviders>
        <AppShell>
          <Outlet />
        </AppShell>
      </AppProviders>
    </ClientOnly>
  )
}

function Splash() {
  return (
    <div className="splash" role="status">
      <span className="spinner" aria-hidden="true" /> Loading ImageProcessor…
      <noscript>
        <p>ImageProcessor needs JavaScript.</p>
      </noscript>
    </div>
  )
}

function NotFound() {
  return (
    <div className="state state-empty">
      <p className="state-title">This page does not exist.</p>
      <Link to="/" search={{ page: 1 }} className="button">
        Go to the gallery
      </Link>
    </div>
  )
}
