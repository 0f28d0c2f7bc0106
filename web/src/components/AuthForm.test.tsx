// @vitest-environment jsdom
import {
  createMemoryHistory,
  createRootRoute,
  createRoute,
  createRouter,
  Outlet,
  RouterProvider,
} from '@tanstack/react-router'
import { cleanup, fireEvent, render, screen, waitFor } from '@testing-library/react'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { ApiClient } from '../lib/api'
import { AppProviders } from '../lib/session'
import { json, problem, scriptedFetch, SESSION } from '../lib/testing'
import { AppShell } from './AppShell'
import { AuthForm } from './AuthForm'

function renderApp(client: ApiClient, path: string) {
  const root = createRootRoute({
    component: () => (
      <AppShell>
        <Outlet />
      </AppShell>
    ),
  })
  const routes = [
    createRoute({ getParentRoute: () => root, path: '/', component: () => <p>gallery page</p> }),
    createRoute({ getParentRoute: () => root, path: '/login', component: () => <AuthForm mode="login" redirect={undefined} /> }),
    createRoute({
      getParentRoute: () => root,
      path: '/register',
      component: () => <AuthForm mode="register" redirect={undefined} />,
    }),
    createRoute({ getParentRoute: () => root, path: '/admin', component: () => <p>admin page</p> }),
  ]
  const router = createRouter({
    routeTree: root.addChildren(routes),
    history: createMemoryHistory({ initialEntries: [path] }),
  })
  render(
    <AppProviders client={client} bootstrap={false}>
      <RouterProvider router={router} />
    </AppProviders>,
  )
  return router
}

afterEach(cleanup)
beforeEach(() => {
  window.scrollTo = () => {} // jsdom has no layout; the router restores scroll positions
})

describe('sign-in and registration', () => {
  it('puts the problem body’s field errors next to their fields', async () => {
    const { fetch, calls } = scriptedFetch({
      'POST /api/auth/register': () =>
        json(400, {
          type: 'urn:imageproc:problem:validation',
          title: 'Validation failed',
          status: 400,
          detail: 'One or more fields are invalid.',
          traceId: 't',
          errors: {
            email: ['Email must be a valid email address.'],
            password: ['Password must be between 8 and 128 characters.'],
          },
        }),
    })
    renderApp(new ApiClient({ fetch }), '/register')
    fireEvent.change(await screen.findByLabelText('Name'), { target: { value: 'Ada' } })
    fireEvent.change(screen.getByLabelText('Email'), { target: { value: 'ada' } })
    fireEvent.change(screen.getByLabelText('Password'), { target: { value: 'short' } })
    fireEvent.click(screen.getByRole('button', { name: 'Create an account' }))

    expect((await screen.findByTestId('error-email')).textContent).toBe('Email must be a valid email address.')
    expect(screen.getByTestId('error-password').textContent).toBe('Password must be between 8 and 128 characters.')
    expect(screen.queryByTestId('error-name')).toBeNull()
    const email = screen.getByLabelText('Email')
    expect(email.getAttribute('aria-invalid')).toBe('true')
    expect(email.getAttribute('aria-describedby')).toContain(screen.getByTestId('error-email').id)
    expect(screen.getByTestId('form-error').textContent).toBe('Please correct the fields marked below.')
    expect(JSON.parse(calls[0]!.body!)).toEqual({ name: 'Ada', email: 'ada', password: 'short' })
  })

  it('shows the generic 401 of a wrong password above the form', async () => {
    const { fetch } = scriptedFetch({ 'POST /api/auth/login': () => problem(401, 'Invalid email or password.') })
    renderApp(new ApiClient({ fetch }), '/login')
    fireEvent.change(await screen.findByLabelText('Email'), { target: { value: 'ada@example.com' } })
    fireEvent.change(screen.getByLabelText('Password'), { target: { value: 'wrong password' } })
    fireEvent.click(screen.getByRole('button', { name: 'Sign in' }))
    expect((await screen.findByTestId('form-error')).textContent).toBe('Invalid email or password.')
  })

  it('signs in, goes to the gallery, and shows the admin link only to admins', async () => {
    for (const role of ['user', 'admin'] as const) {
      const { fetch } = scriptedFetch({
        'POST /api/auth/login': () => json(200, SESSION),
        'GET /api/auth/me': () => json(200, { ...SESSION, role, createdAt: '2026-01-05T10:12:03.481Z' }),
      })
      const router = renderApp(new ApiClient({ fetch }), '/login')
      fireEvent.change(await screen.findByLabelText('Email'), { target: { value: SESSION.email } })
      fireEvent.change(screen.getByLabelText('Password'), { target: { value: 'correct horse' } })
      fireEvent.click(screen.getByRole('button', { name: 'Sign in' }))
      await screen.findByText('gallery page')
      expect(router.state.location.pathname).toBe('/')
      // The profile (GET /api/auth/me) has arrived once the name carries the email as its title.
      await waitFor(() => expect(screen.getByText(SESSION.name).getAttribute('title')).toBe(SESSION.email))
      expect(screen.queryByTestId('admin-link') !== null).toBe(role === 'admin')
      cleanup()
    }
  })
})
