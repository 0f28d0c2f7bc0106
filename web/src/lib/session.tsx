// The app's API client and sign-in state, shared through React context. At start the refresh cookie (if any)
// is exchanged for an access token, so a reload keeps the user signed in without storing the token anywhere.

import { QueryClient, QueryClientProvider, useQuery, useQueryClient } from '@tanstack/react-query'
import { createContext, useContext, useEffect, useMemo, useState, type ReactNode } from 'react'
import { ApiClient, createApiClient } from './api'
import { ApiError } from './problem'
import type { AuthSession, Profile } from './types'

export type AuthState =
  | { status: 'loading' }
  | { status: 'anonymous'; error?: string }
  | { status: 'signedIn'; session: AuthSession }

const ApiContext = createContext<ApiClient | null>(null)
const AuthContext = createContext<AuthState>({ status: 'loading' })

export function makeQueryClient(): QueryClient {
  return new QueryClient({
    defaultOptions: {
      queries: {
        staleTime: 10_000,
        refetchOnWindowFocus: true,
        retry: (count, error) => {
          // Client errors do not get better by asking again; server and network errors get two more tries.
          if (error instanceof ApiError && error.status >= 400 && error.status < 500) return false
          return count < 2
        },
      },
    },
  })
}

export function AppProviders({
  children,
  client: givenClient,
  queryClient: givenQueryClient,
  bootstrap = true,
}: {
  children: ReactNode
  client?: ApiClient
  queryClient?: QueryClient
  bootstrap?: boolean
}) {
  const [client] = useState(() => givenClient ?? createApiClient())
  const [queryClient] = useState(() => givenQueryClient ?? makeQueryClient())
  const [auth, setAuth] = useState<AuthState>(() =>
    client.currentSession ? { status: 'signedIn', session: client.currentSession } : { status: 'loading' },
  )

  useEffect(() => {
    const unsubscribe = client.onSessionChange((session) => {
      if (session) {
        setAuth({ status: 'signedIn', session })
      } else {
        setAuth({ status: 'anonymous' })
        queryClient.clear()
      }
    })
    if (bootstrap && !client.currentSession) {
      client.refresh().catch((error: unknown) => {
        setAuth({
          status: 'anonymous',
          error: error instanceof ApiError ? error.detail : 'The server cannot be reached.',
        })
      })
    } else if (!client.currentSession) {
      setAuth({ status: 'anonymous' })
    }
    return () => {
      unsubscribe()
    }
  }, [client, queryClient, bootstrap])

  return (
    <ApiContext.Provider value={client}>
      <QueryClientProvider client={queryClient}>
        <AuthContext.Provider value={auth}>{children}</AuthContext.Provider>
      </QueryClientProvider>
    </ApiContext.Provider>
  )
}

export function useApi(): ApiClient {
  const client = useContext(ApiContext)
  if (!client) throw new Error('useApi outside AppProviders')
  return client
}

export function useAuth(): AuthState {
  return useContext(AuthContext)
}

export function useProfile() {
  const client = useApi()
  const auth = useAuth()
  const userId = auth.status === 'signedIn' ? auth.session.userId : null
  return useQuery<Profile>({
    queryKey: ['me', userId],
    queryFn: () => client.me(),
    enabled: userId !== null,
    staleTime: 60_000,
  })
}

export function useSignOut() {
  const client = useApi()
  const queryClient = useQueryClient()
  return useMemo(
    () => async () => {
      try {
        await client.logout()
      } finally {
        queryClient.clear()
      }
    },
    [client, queryClient],
  )
}
