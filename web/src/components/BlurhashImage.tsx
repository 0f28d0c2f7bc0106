// An image that shows its BlurHash at once and fades the real (signed) image in once it has loaded.

import { decode } from 'blurhash'
import { useEffect, useRef, useState } from 'react'

const PLACEHOLDER_SIZE = 32

export function BlurhashCanvas({ hash, className }: { hash: string; className?: string }) {
  const ref = useRef<HTMLCanvasElement>(null)
  useEffect(() => {
    const canvas = ref.current
    if (!canvas) return
    try {
      const pixels = decode(hash, PLACEHOLDER_SIZE, PLACEHOLDER_SIZE)
      const ctx = canvas.getContext('2d')
      if (!ctx) return
      const image = ctx.createImageData(PLACEHOLDER_SIZE, PLACEHOLDER_SIZE)
      image.data.set(pixels)
      ctx.putImageData(image, 0, 0)
    } catch {
      // An invalid hash leaves the neutral background.
    }
  }, [hash])
  return (
    <canvas
      ref={ref}
      className={className}
      width={PLACEHOLDER_SIZE}
      height={PLACEHOLDER_SIZE}
      aria-hidden="true"
      data-blurhash={hash}
    />
  )
}

export function BlurhashImage({
  src,
  hash,
  alt,
  className,
  eager = false,
}: {
  src: string | null
  hash: string | null
  alt: string
  className?: string
  eager?: boolean
}) {
  const [loaded, setLoaded] = useState(false)
  const [failed, setFailed] = useState(false)
  useEffect(() => {
    setLoaded(false)
    setFailed(false)
  }, [src])
  return (
    <div className={`blurhash-image ${className ?? ''}`}>
      {hash && !loaded && <BlurhashCanvas hash={hash} className="blurhash-placeholder" />}
      {src && !failed && (
        <img
          src={src}
          alt={alt}
          loading={eager ? 'eager' : 'lazy'}
          decoding="async"
          className={loaded ? 'is-loaded' : ''}
          onLoad={() => setLoaded(true)}
          onError={() => setFailed(true)}
        />
      )}
      {(!src || failed) && !hash && <div className="image-missing" aria-hidden="true" />}
    </div>
  )
}
