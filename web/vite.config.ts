import { tanstackStart } from '@tanstack/react-start/plugin/vite'
import react from '@vitejs/plugin-react'
import { defineConfig } from 'vite'

// A static single-page build (dist/client: index.html + hashed assets/) that `imageproc api` serves at /
// with a fallback to index.html. `npm run dev` proxies the API to a running `imageproc up`.
export default defineConfig({
  plugins: [tanstackStart({ spa: { enabled: true, prerender: { outputPath: '/index' } } }), react()],
  server: {
    proxy: {
      '/api': { target: process.env.IMAGEPROC_DEV_API ?? 'http://127.0.0.1:8080', changeOrigin: false },
      '/files': { target: process.env.IMAGEPROC_DEV_API ?? 'http://127.0.0.1:8080', changeOrigin: false },
    },
  },
})
