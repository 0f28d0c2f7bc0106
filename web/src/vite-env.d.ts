/// <reference types="vite/client" />

interface ImportMetaEnv {
  // Origin of a remote API (e.g. https://api.example.com); empty or unset: the origin that serves the app.
  readonly VITE_API_BASE_URL?: string
}

interface ImportMeta {
  readonly env: ImportMetaEnv
}
