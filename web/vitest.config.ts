import react from '@vitejs/plugin-react'
import { defineConfig } from 'vitest/config'

// Unit tests of the app's logic and components; no TanStack Start plugin (no build, no route generation).
export default defineConfig({
  plugins: [react()],
  test: {
    include: ['src/**/*.test.{ts,tsx}'],
    environment: 'node',
    restoreMocks: true,
    testTimeout: 10_000,
  },
})
