import { createFileRoute } from '@tanstack/react-router'
import { AuthForm } from '../components/AuthForm'

export const Route = createFileRoute('/register')({
  validateSearch: (search: Record<string, unknown>): { redirect?: string } =>
    typeof search.redirect === 'string' ? { redirect: search.redirect } : {},
  head: () => ({ meta: [{ title: 'Create an account · ImageProcessor' }] }),
  component: Page,
})

function Page() {
  const { redirect } = Route.useSearch()
  return <AuthForm mode="register" redirect={redirect} />
}
