// Sign-in and registration forms. Field messages come from the API's problem body (`errors`), keyed by the
// API's field names; anything else is shown above the form.

import { Link, useNavigate } from '@tanstack/react-router'
import { useEffect, useId, useState, type FormEvent } from 'react'
import { ApiError, errorMessage } from '../lib/problem'
import { useApi, useAuth } from '../lib/session'

type Mode = 'login' | 'register'

interface FieldProps {
  name: string
  label: string
  type: string
  autoComplete: string
  value: string
  error: string | undefined
  hint?: string
  onChange: (value: string) => void
}

function Field({ name, label, type, autoComplete, value, error, hint, onChange }: FieldProps) {
  const id = useId()
  const describedBy = [hint ? `${id}-hint` : null, error ? `${id}-error` : null].filter(Boolean).join(' ')
  return (
    <div className={`field ${error ? 'has-error' : ''}`}>
      <label htmlFor={id}>{label}</label>
      <input
        id={id}
        name={name}
        type={type}
        autoComplete={autoComplete}
        value={value}
        required
        aria-invalid={error ? true : undefined}
        aria-describedby={describedBy || undefined}
        onChange={(e) => onChange(e.target.value)}
      />
      {hint && (
        <p id={`${id}-hint`} className="field-hint">
          {hint}
        </p>
      )}
      {error && (
        <p id={`${id}-error`} className="field-error" data-testid={`error-${name}`}>
          {error}
        </p>
      )}
    </div>
  )
}

export function AuthForm({ mode, redirect }: { mode: Mode; redirect: string | undefined }) {
  const client = useApi()
  const auth = useAuth()
  const navigate = useNavigate()
  const [name, setName] = useState('')
  const [email, setEmail] = useState('')
  const [password, setPassword] = useState('')
  const [busy, setBusy] = useState(false)
  const [error, setError] = useState<unknown>(null)

  const target = redirect && redirect.startsWith('/') && !redirect.startsWith('//') ? redirect : '/'
  useEffect(() => {
    if (auth.status === 'signedIn') void navigate({ href: target, replace: true })
  }, [auth.status, navigate, target])

  const fieldError = (field: string) => (error instanceof ApiError ? error.field(field) : undefined)
  const hasFieldErrors = error instanceof ApiError && Object.keys(error.fieldErrors).length > 0

  const onSubmit = async (event: FormEvent) => {
    event.preventDefault()
    setBusy(true)
    setError(null)
    try {
      if (mode === 'register') await client.register({ name, email, password })
      else await client.login({ email, password })
    } catch (e) {
      setError(e)
    } finally {
      setBusy(false)
    }
  }

  const title = mode === 'login' ? 'Sign in' : 'Create an account'
  return (
    <div className="auth">
      <form className="panel auth-form" onSubmit={(e) => void onSubmit(e)} noValidate aria-labelledby="auth-title">
        <h1 id="auth-title">{title}</h1>
        <p className="muted">
          {mode === 'login'
            ? 'Your images are private: only you see them, through links that expire.'
            : 'Upload images and get thumbnails, an optimized version, metadata and an AI analysis.'}
        </p>
        {auth.status === 'anonymous' && auth.error && !error && (
          <p className="form-error" role="alert">
            {auth.error}
          </p>
        )}
        {Boolean(error) && !hasFieldErrors && (
          <p className="form-error" role="alert" data-testid="form-error">
            {errorMessage(error)}
          </p>
        )}
        {hasFieldErrors && (
          <p className="form-error" role="alert" data-testid="form-error">
            Please correct the fields marked below.
          </p>
        )}
        {mode === 'register' && (
          <Field
            name="name"
            label="Name"
            type="text"
            autoComplete="name"
            value={name}
            error={fieldError('name')}
            onChange={setName}
          />
        )}
        <Field
          name="email"
          label="Email"
          type="email"
          autoComplete="email"
          value={email}
          error={fieldError('email')}
          onChange={setEmail}
        />
        <Field
          name="password"
          label="Password"
          type="password"
          autoComplete={mode === 'login' ? 'current-password' : 'new-password'}
          value={password}
          error={fieldError('password')}
          hint={mode === 'register' ? '8 to 128 characters.' : undefined}
          onChange={setPassword}
        />
        <button type="submit" className="button button-primary button-wide" disabled={busy}>
          {busy ? 'One moment…' : title}
        </button>
        <p className="muted auth-switch">
          {mode === 'login' ? (
            <>
              New here?{' '}
              <Link to="/register" search={redirect ? { redirect } : {}}>
                Create an account
              </Link>
            </>
          ) : (
            <>
              Already have an account?{' '}
              <Link to="/login" search={redirect ? { redirect } : {}}>
                Sign in
              </Link>
            </>
          )}
        </p>
      </form>
    </div>
  )
}
