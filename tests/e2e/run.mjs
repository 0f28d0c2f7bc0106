// Browser end-to-end test of the web app against the real stack (issue 7): Debian's Chromium driven by
// playwright-core. Register → upload two images (one with text) → both reach Completed live, without a reload
// → detail: thumbnails load through signed URLs, EXIF table and OCR text → delete one → it disappears; a wrong
// password shows the error; a PNG named .txt is accepted by its content (as the server does) and a text file
// named .png is refused with a readable message. Any browser console error fails the test. Screenshots go to
// test-output/e2e/. Every wait is bounded; all traffic goes to 127.0.0.1.
//
//   IMAGEPROC_TEST_DATABASE_URL, IMAGEPROC_TEST_AMQP_URL   from scripts/services (scripts/run-tests sets them)
//   IMAGEPROC_BINARY   the imageproc binary (default build/asan/imageproc)
//   WEB_DIST_DIR       the built app (default web/dist/client)

import assert from 'node:assert/strict'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { makeGradientPng, makeInvoiceJpeg } from './images.mjs'
import { startStack } from './stack.mjs'

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..')
const require = createRequire(join(repo, 'web', 'package.json'))
const { chromium } = require('playwright-core')

const binary = process.env.IMAGEPROC_BINARY ?? join(repo, 'build', 'asan', 'imageproc')
const webDist = process.env.WEB_DIST_DIR ?? join(repo, 'web', 'dist', 'client')
const outputDir = join(repo, 'test-output', 'e2e')
const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium'

// Generous bounds for an ASan build on a shared 2-core machine; each wait stops as soon as its condition holds.
const STEP_MS = 30_000
const PIPELINE_MS = 180_000

const started = Date.now()
const log = (message) => console.log(`[e2e +${((Date.now() - started) / 1000).toFixed(1)}s] ${message}`)

// Console errors the test provokes on purpose: the browser logs every 4xx answer of fetch() as "Failed to load
// resource". Only these exact answers are expected; any other console error fails the run.
const EXPECTED_FAILED_REQUESTS = [
  { path: '/api/auth/refresh', status: 401, why: 'start-up without a session cookie' },
  { path: '/api/auth/login', status: 401, why: 'the wrong-password check' },
  { path: '/api/auth/register', status: 400, why: 'the field-validation check' },
]

async function main() {
  for (const [what, path] of [
    ['imageproc binary (make build-test)', binary],
    ['built web app (npm run build in web/)', join(webDist, 'index.html')],
    ['Chromium (apt-get install chromium)', CHROMIUM],
  ]) {
    if (!existsSync(path)) throw new Error(`missing ${what}: ${path}`)
  }
  mkdirSync(outputDir, { recursive: true })
  const work = mkdtempSync(join(tmpdir(), 'imageproc-e2e-'))
  let stack = null
  let context = null
  let page = null
  const consoleErrors = []
  try {
    const invoice = makeInvoiceJpeg(work)
    const scanTxt = makeGradientPng(join(work, 'scan-as-text.txt')) // a real PNG with a misleading name
    const sunset = makeGradientPng(join(work, 'sunset.png'), 360, 480)
    const notImage = join(work, 'holiday.png') // text with an image's name
    const broken = join(work, 'truncated.jpg') // a readable header, then nothing: the image stage fails
    writeFileSync(broken, readFileSync(invoice).subarray(0, Math.floor(readFileSync(invoice).length * 0.4)))
    writeFileSync(notImage, 'This is a text file, not a picture.\n')
    log('test images made')

    stack = await startStack({ binary, webDist, log })
    context = await chromium.launchPersistentContext(join(work, 'profile'), {
      executablePath: CHROMIUM,
      headless: true,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--no-first-run',
        '--disable-sync',
        '--disable-quic',
      ],
      viewport: { width: 1280, height: 900 },
      baseURL: stack.baseUrl,
    })
    context.setDefaultTimeout(STEP_MS)
    // Nothing leaves the machine: any request to another host fails the test.
    const offHost = []
    await context.route(
      (url) => url.hostname !== '127.0.0.1',
      (route) => {
        offHost.push(route.request().url())
        return route.abort()
      },
    )
    page = context.pages()[0] ?? (await context.newPage())
    page.on('console', (msg) => {
      if (msg.type() !== 'error') return
      const url = msg.location()?.url ?? ''
      const path = url.startsWith(stack.baseUrl) ? new URL(url).pathname : url
      const expected = EXPECTED_FAILED_REQUESTS.some(
        (e) => e.path === path && msg.text().includes(`status of ${e.status}`),
      )
      if (!expected) consoleErrors.push(`${msg.text()} (${url})`)
    })
    page.on('pageerror', (error) => consoleErrors.push(`uncaught: ${error.message}`))

    await flow(page, { invoice, scanTxt, sunset, notImage, broken, stack })

    assert.deepEqual(offHost, [], 'the app must not contact any other host')
    assert.deepEqual(consoleErrors, [], 'the browser console must stay free of errors')
    for (const child of [stack.api, stack.worker]) {
      assert.deepEqual(child.sanitizerReports(), [], `${child.name} reported sanitizer errors`)
    }
    log('PASS')
  } catch (error) {
    if (consoleErrors.length > 0) console.error(`---- browser console errors ----\n${consoleErrors.join('\n')}`)
    if (page) {
      await page.screenshot({ path: join(outputDir, 'failure.png'), fullPage: true, timeout: 10_000 }).catch(() => {})
      const text = await page.evaluate(() => document.body.innerText).catch(() => '')
      console.error(`---- page ${page.url()} ----\n${text.slice(0, 2000)}`)
    }
    for (const child of [stack?.api, stack?.worker]) {
      if (child) console.error(`---- last lines of ${child.name} ----\n${child.tail(60)}`)
    }
    throw error
  } finally {
    if (context) await context.close().catch(() => {})
    if (stack) await stack.stop()
    rmSync(work, { recursive: true, force: true })
  }
}

async function flow(page, { invoice, scanTxt, sunset, notImage, broken, stack }) {
  // ---- first visit: no session, the app sends us to sign in ----
  await page.goto('/')
  await page.getByRole('heading', { name: 'Sign in' }).waitFor()
  assert.match(new URL(page.url()).pathname, /^\/login$/)
  log('signed-out visit lands on the sign-in page')

  // ---- register: the API's field errors appear next to the fields ----
  await page.getByRole('link', { name: 'Create an account' }).click()
  await page.getByRole('heading', { name: 'Create an account' }).waitFor()
  await page.getByLabel('Name').fill('Ada Browser')
  await page.getByLabel('Email').fill('not-an-email')
  await page.getByLabel('Password').fill('short')
  await page.getByRole('button', { name: 'Create an account' }).click()
  await page.getByTestId('error-email').waitFor()
  assert.match(await page.getByTestId('error-email').innerText(), /email/i)
  assert.match(await page.getByTestId('error-password').innerText(), /8 and 128/)
  assert.equal(await page.getByLabel('Email').getAttribute('aria-invalid'), 'true')
  log('registration shows the field errors of the problem body')

  const email = `ada-${stack.dbName}@example.com`
  const password = 'correct horse battery staple'
  await page.getByLabel('Email').fill(email)
  await page.getByLabel('Password').fill(password)
  await page.getByRole('button', { name: 'Create an account' }).click()
  await page.getByRole('heading', { name: 'Your images', exact: true }).waitFor()
  await page.getByText('No images yet.').waitFor()
  assert.equal(await page.getByTestId('admin-link').count(), 0, 'no admin link for a normal user')
  log('registered and signed in; empty gallery shown')

  // A marker that a reload would wipe: the gallery must reach Completed without one.
  await page.evaluate(() => {
    window.__noReloadMarker = 'still here'
  })

  // ---- upload two images at once, one of them a PNG named .txt ----
  await page.getByTestId('file-input').setInputFiles([invoice, scanTxt])
  const uploads = page.getByTestId('upload-item')
  await waitFor(async () => (await uploads.count()) === 2, STEP_MS, 'two upload rows')
  await waitFor(
    async () => (await page.locator('[data-testid="upload-item"][data-phase="done"]').count()) === 2,
    STEP_MS,
    'both uploads accepted',
    async () => (await uploads.allInnerTexts()).join(' | '),
  )
  log('both files uploaded (the .txt one by its PNG content)')

  const cards = page.getByTestId('job-card')
  await waitFor(async () => (await cards.count()) === 2, STEP_MS, 'two cards in the gallery')
  const statusesSeen = new Set()
  await waitFor(
    async () => {
      const statuses = await cards.evaluateAll((els) => els.map((e) => e.getAttribute('data-status')))
      statuses.forEach((s) => statusesSeen.add(s))
      return statuses.every((s) => s === 'Completed')
    },
    PIPELINE_MS,
    'both jobs Completed (image stage and AI analysis)',
    async () => JSON.stringify(await cards.evaluateAll((els) => els.map((e) => e.getAttribute('data-status')))),
  )
  assert.equal(await page.evaluate(() => window.__noReloadMarker), 'still here', 'the page was reloaded')
  log(`both jobs reached Completed live (states seen: ${[...statusesSeen].join(', ')})`)

  // Thumbnails through signed URLs, tags from the AI stage.
  await waitFor(
    async () => (await cards.locator('img.is-loaded').count()) === 2,
    STEP_MS,
    'gallery thumbnails loaded',
  )
  const thumbs = await cards.locator('img').evaluateAll((imgs) =>
    imgs.map((img) => ({ src: img.getAttribute('src'), w: img.naturalWidth })),
  )
  for (const t of thumbs) {
    assert.ok(t.w > 0, `thumbnail ${t.src} did not load`)
    assert.match(t.src, /^\/files\/processed\/.+thumb-512\.webp\?exp=\d+&sig=[0-9a-f]+$/)
  }
  const invoiceCard = cards.filter({ hasText: 'invoice-2041.jpg' })
  await waitFor(async () => (await invoiceCard.locator('.tag').count()) > 0, STEP_MS, 'AI tags on the card')
  await page.getByTestId('stats').getByText('Images').waitFor()
  await waitFor(
    async () => (await page.getByTestId('stats').innerText()).includes('100 %'),
    STEP_MS,
    'stats show the success rate',
  )
  await page.screenshot({ path: join(outputDir, 'gallery.png'), fullPage: true })
  log('gallery screenshot saved')

  // ---- search over the OCR text ----
  await page.getByLabel('Search tags, text and summaries').fill('invoice')
  await page.getByRole('button', { name: 'Search' }).click()
  await waitFor(async () => (await cards.count()) === 1, STEP_MS, 'search narrows to the invoice')
  assert.equal(await cards.first().getAttribute('data-status'), 'Completed')
  assert.match(await cards.first().innerText(), /invoice-2041\.jpg/)
  assert.match(page.url(), /q=invoice/)
  log('search by OCR text finds the invoice only')

  // ---- detail of the invoice ----
  await cards.first().getByRole('link').click()
  const detail = page.getByTestId('job-detail')
  await detail.waitFor()
  await page.getByRole('heading', { name: 'invoice-2041.jpg' }).waitFor()
  const outputThumbs = page.getByTestId('output-thumb')
  await waitFor(async () => (await outputThumbs.count()) === 3, STEP_MS, 'three thumbnails listed')
  await waitFor(
    async () => (await outputThumbs.evaluateAll((imgs) => imgs.every((i) => i.complete && i.naturalWidth > 0))),
    STEP_MS,
    'detail thumbnails loaded through their signed URLs',
  )
  await waitFor(
    async () => (await page.locator('.preview-image img').evaluate((i) => i.complete && i.naturalWidth > 0)),
    STEP_MS,
    'preview loaded',
  )
  const outputs = await page.getByTestId('outputs').innerText()
  for (const name of ['original', 'thumb-128', 'thumb-512', 'thumb-1024', 'optimized']) assert.ok(outputs.includes(name), name)
  assert.match(outputs, /1100 × 420/)
  assert.match(outputs, /saves \d/)
  const exif = page.getByTestId('exif')
  await exif.waitFor()
  assert.match(await exif.getByRole('row', { name: /Make/ }).innerText(), /E2ECam/)
  assert.match(await exif.getByRole('row', { name: /Model/ }).innerText(), /Browser Test 1/)
  assert.match(await page.getByTestId('gps').innerText(), /52\.516\d*° N, 13\.377\d*° E/)
  const ocr = (await page.getByTestId('ocr-text').innerText()).toUpperCase()
  assert.ok(ocr.includes('INVOICE'), `OCR text: ${ocr}`)
  assert.ok(ocr.includes('2041'), `OCR text: ${ocr}`)
  assert.match(await page.getByTestId('safety').innerText(), /Not assessed/)
  assert.match(await page.getByTestId('ai-meta').innerText(), /local/)
  assert.ok((await page.getByTestId('ai-tags').locator('meter').count()) > 0, 'tags with confidence bars')
  assert.ok((await page.locator('.swatch').count()) > 0, 'dominant colour swatches')
  const timeline = await page.getByTestId('timeline').innerText()
  assert.match(timeline, /Image stage finished[\s\S]*took/)
  assert.match(timeline, /AI analysis finished[\s\S]*took/)
  await page.screenshot({ path: join(outputDir, 'detail.png'), fullPage: true })
  log('detail: outputs, EXIF, GPS, OCR text, tags, timeline; screenshot saved')

  // ---- phone width: nothing wider than the screen ----
  await page.setViewportSize({ width: 390, height: 844 })
  await waitFor(
    async () => page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth),
    STEP_MS,
    'detail fits a phone-width screen',
    async () => JSON.stringify(await page.evaluate(() => [document.documentElement.scrollWidth, window.innerWidth])),
  )
  await page.screenshot({ path: join(outputDir, 'detail-phone.png'), fullPage: false })
  await page.getByRole('link', { name: '← Gallery' }).click()
  await page.getByRole('heading', { name: 'Your images', exact: true }).waitFor()
  await waitFor(async () => (await cards.count()) === 2, STEP_MS, 'both cards back in the unfiltered gallery')
  await waitFor(
    async () => page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth),
    STEP_MS,
    'gallery fits a phone-width screen',
  )
  await page.screenshot({ path: join(outputDir, 'gallery-phone.png'), fullPage: false })
  await page.setViewportSize({ width: 1280, height: 900 })
  log('phone width: gallery and detail fit the screen')

  // ---- delete the PNG (named .txt): confirmation, then it disappears ----
  await cards.filter({ hasText: 'scan-as-text.txt' }).getByRole('link').click()
  await page.getByRole('heading', { name: 'scan-as-text.txt' }).waitFor()
  await page.getByRole('button', { name: 'Delete' }).click()
  const dialog = page.getByRole('dialog', { name: 'Delete this image?' })
  await dialog.waitFor()
  await dialog.getByRole('button', { name: 'Delete' }).click()
  await page.getByRole('heading', { name: 'Your images', exact: true }).waitFor()
  await waitFor(async () => (await cards.count()) === 1, STEP_MS, 'the deleted image disappears')
  assert.match(await cards.first().innerText(), /invoice-2041\.jpg/)
  log('deleted image is gone from the gallery')

  // ---- a text file named .png is refused with a readable message; a real image beside it goes through, and
  // its detail page follows both stages live ----
  await page.getByRole('button', { name: 'Clear finished' }).click()
  await waitFor(async () => (await uploads.count()) === 0, STEP_MS, 'finished uploads cleared')
  await page.getByTestId('file-input').setInputFiles([notImage, sunset])
  const refused = page.locator('[data-testid="upload-item"][data-phase="refused"]')
  await refused.waitFor()
  assert.match(
    await refused.innerText(),
    /holiday\.png[\s\S]*Only JPEG, PNG, WebP or GIF images are accepted; the file's content is not one of them\./,
  )
  log('text file named .png refused with a readable message')
  const accepted = page.locator('[data-testid="upload-item"][data-phase="done"]')
  await accepted.waitFor()
  await page.evaluate(() => {
    window.__noReloadMarker = 'detail'
  })
  await accepted.getByRole('link', { name: 'view progress' }).click()
  await page.getByRole('heading', { name: 'sunset.png' }).waitFor()
  const detailStates = new Set()
  await waitFor(
    async () => {
      const state = await page.getByTestId('job-detail').getAttribute('data-status')
      detailStates.add(state)
      return state === 'Completed' && (await page.getByTestId('ai-summary').count()) === 1
    },
    PIPELINE_MS,
    'the detail page reaching Completed with its AI analysis',
  )
  assert.equal(await page.evaluate(() => window.__noReloadMarker), 'detail', 'the page was reloaded')
  await waitFor(async () => (await page.getByTestId('output-thumb').count()) === 3, STEP_MS, 'thumbnails on the live detail')
  log(`detail page followed the job live (states seen: ${[...detailStates].join(', ')})`)
  await page.getByRole('link', { name: '← Gallery' }).click()
  await waitFor(async () => (await cards.count()) === 2, STEP_MS, 'the new image in the gallery, nothing from the text file')

  // ---- a damaged image: the stage fails with a readable message, Retry runs it again, Delete removes it ----
  await page.getByRole('button', { name: 'Clear finished' }).click()
  await page.getByTestId('file-input').setInputFiles([broken])
  const brokenRow = page.locator('[data-testid="upload-item"][data-phase="done"]')
  await brokenRow.waitFor()
  await brokenRow.getByRole('link', { name: 'view progress' }).click()
  await page.getByRole('heading', { name: 'truncated.jpg' }).waitFor()
  await waitFor(
    async () => (await page.getByTestId('job-detail').getAttribute('data-status')) === 'Error',
    PIPELINE_MS,
    'the damaged image failing',
  )
  assert.match(await page.locator('.notice-error').first().innerText(), /could not be decoded/)
  assert.match(await page.getByTestId('ai').innerText(), /Skipped/)
  // Every state the detail shows from now on, recorded in the page as it changes.
  await page.getByTestId('job-detail').evaluate((el) => {
    window.__detailStates = []
    new MutationObserver(() => window.__detailStates.push(el.getAttribute('data-status'))).observe(el, {
      attributes: true,
      attributeFilter: ['data-status'],
    })
  })
  const retried = page.waitForResponse((r) => r.url().endsWith('/retry') && r.request().method() === 'POST')
  await page.getByRole('button', { name: 'Retry failed stage' }).click()
  assert.equal((await retried).status(), 202)
  await waitFor(
    async () => {
      const states = await page.evaluate(() => window.__detailStates)
      return states.includes('Processing') && states.at(-1) === 'Error'
    },
    PIPELINE_MS,
    'the retried stage running and failing again',
    async () => JSON.stringify(await page.evaluate(() => window.__detailStates)),
  )
  await page.getByRole('button', { name: 'Delete' }).click()
  await page.getByRole('dialog', { name: 'Delete this image?' }).getByRole('button', { name: 'Delete' }).click()
  await page.getByRole('heading', { name: 'Your images', exact: true }).waitFor()
  await waitFor(async () => (await cards.count()) === 2, STEP_MS, 'the damaged image gone again')
  log('damaged image: readable failure, retry accepted, deleted')

  // ---- sign out, wrong password, sign in again ----
  await page.getByRole('button', { name: 'Sign out' }).click()
  await page.getByRole('heading', { name: 'Sign in' }).waitFor()
  await page.getByLabel('Email').fill(email)
  await page.getByLabel('Password').fill('not my password')
  await page.getByRole('button', { name: 'Sign in' }).click()
  const formError = page.getByTestId('form-error')
  await formError.waitFor()
  assert.equal(await formError.innerText(), 'Invalid email or password.')
  log('wrong password shows the error')
  await page.getByLabel('Password').fill(password)
  await page.getByRole('button', { name: 'Sign in' }).click()
  await page.getByRole('heading', { name: 'Your images', exact: true }).waitFor()
  await waitFor(async () => (await cards.count()) === 2, STEP_MS, 'the gallery after signing in again')

  // ---- a reload keeps the session (refresh cookie → new access token in memory) ----
  await page.reload()
  await page.getByRole('heading', { name: 'Your images', exact: true }).waitFor()
  await waitFor(async () => (await cards.count()) === 2, STEP_MS, 'the gallery after a reload')
  log('signed in again; a reload keeps the session')

  // ---- the operator page: only for admins ----
  assert.equal(await page.getByTestId('admin-link').count(), 0)
  stack.promote(email)
  await page.reload() // a new access token (refresh) carries the new role
  await page.getByTestId('admin-link').waitFor()
  await page.getByTestId('admin-link').click()
  await page.getByRole('heading', { name: 'Operations' }).waitFor()
  const queues = page.getByTestId('admin-queues')
  await queues.waitFor()
  assert.match(await queues.innerText(), /image-jobs[\s\S]*image-ai-jobs/)
  assert.match(await page.getByTestId('admin-workers').innerText(), /alive/)
  // "Run now" reaches a worker's scheduler, which runs the job and records it.
  await page.getByRole('button', { name: 'Run prune-outbox now' }).click()
  await page.getByText(/requested/).first().waitFor()
  await waitFor(
    async () => {
      await page.reload()
      await page.getByTestId('admin-queues').waitFor()
      const runs = page.getByTestId('admin-runs')
      return (await runs.count()) > 0 && /prune-outbox\s+manual\s+Succeeded/.test(await runs.innerText())
    },
    30_000,
    'the requested prune-outbox run to show as Succeeded',
  )
  await page.screenshot({ path: join(outputDir, 'admin.png'), fullPage: true })
  log('admin: promoted user sees queues and the live worker, runs a schedule; screenshot saved')
}

async function waitFor(condition, timeoutMs, what, describe) {
  const deadline = Date.now() + timeoutMs
  let last
  for (;;) {
    try {
      if (await condition()) return
    } catch (error) {
      last = error
    }
    if (Date.now() >= deadline) {
      const state = describe ? await describe().catch(() => '') : ''
      throw new Error(`timed out after ${timeoutMs} ms waiting for: ${what}${state ? ` (now: ${state})` : ''}${last ? ` (${last.message})` : ''}`)
    }
    await new Promise((r) => setTimeout(r, 200))
  }
}

main().then(
  () => process.exit(0),
  (error) => {
    console.error(`[e2e] FAIL: ${error.stack ?? error}`)
    process.exit(1)
  },
)

