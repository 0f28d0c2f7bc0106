// The real stack for the browser test, on loopback only: a fresh database on the test PostgreSQL, `imageproc
// api` serving the built web app and `imageproc worker` with the local AI provider and local storage, on a
// queue prefix of their own (as tests/integration/harness.cpp's stack_env). Everything started here is
// stopped by stop(), which the test calls in `finally`.

import { execFileSync, spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export function requiredEnv(name) {
  const value = process.env[name]
  if (!value) {
    throw new Error(`${name} is not set: run the e2e tier through \`make test\` or scripts/run-tests (scripts/services starts the services and exports it)`)
  }
  return value
}

function psql(adminUrl, sql) {
  execFileSync('psql', [adminUrl, '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-c', sql], { stdio: ['ignore', 'ignore', 'pipe'], timeout: 60_000 })
}

// A child process whose output lines are kept (for waiting and for the failure report).
class Child {
  constructor(name, command, args, env) {
    this.name = name
    this.lines = []
    this.waiters = []
    this.exited = null
    this.proc = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'], detached: false })
    const onData = (chunk) => {
      const text = (this.partial ?? '') + chunk.toString('utf8')
      const parts = text.split('\n')
      this.partial = parts.pop()
      for (const line of parts) {
        this.lines.push(line)
        for (const w of [...this.waiters]) w()
      }
    }
    this.proc.stdout.on('data', onData)
    this.proc.stderr.on('data', onData)
    this.exitPromise = new Promise((resolve) => {
      this.proc.on('exit', (code, signal) => {
        this.exited = { code, signal }
        for (const w of [...this.waiters]) w()
        resolve(this.exited)
      })
    })
  }

  // Resolves with the first line containing `needle`; rejects on exit or after `timeoutMs`.
  waitForLine(needle, timeoutMs) {
    return new Promise((resolve, reject) => {
      let seen = 0
      const check = () => {
        for (; seen < this.lines.length; seen++) {
          if (this.lines[seen].includes(needle)) {
            done()
            resolve(this.lines[seen])
            return
          }
        }
        if (this.exited) {
          done()
          reject(new Error(`${this.name} exited (${JSON.stringify(this.exited)}) before printing ${needle}:\n${this.tail()}`))
        }
      }
      const timer = setTimeout(() => {
        done()
        reject(new Error(`${this.name} did not print ${needle} within ${timeoutMs} ms:\n${this.tail()}`))
      }, timeoutMs)
      const done = () => {
        clearTimeout(timer)
        this.waiters = this.waiters.filter((w) => w !== check)
      }
      this.waiters.push(check)
      check()
    })
  }

  tail(n = 40) {
    return this.lines.slice(-n).join('\n')
  }

  // SIGTERM, then SIGKILL if it is still there after `graceMs`.
  async stop(graceMs = 25_000) {
    if (this.exited) return this.exited
    this.proc.kill('SIGTERM')
    const timer = setTimeout(() => {
      if (!this.exited) this.proc.kill('SIGKILL')
    }, graceMs)
    const result = await this.exitPromise
    clearTimeout(timer)
    return result
  }

  sanitizerReports() {
    return this.lines.filter((l) => /ERROR: (AddressSanitizer|UndefinedBehaviorSanitizer)|runtime error:/.test(l))
  }
}

export async function startStack({ binary, webDist, log }) {
  const adminUrl = requiredEnv('IMAGEPROC_TEST_DATABASE_URL')
  const amqpUrl = requiredEnv('IMAGEPROC_TEST_AMQP_URL')
  const dbName = `e2e_${randomBytes(6).toString('hex')}`
  const stack = {
    dbName,
    api: null,
    worker: null,
    baseUrl: null,
    objectsDir: mkdtempSync(join(tmpdir(), 'imageproc-e2e-objects-')),
    // `imageproc user promote EMAIL`: the operator tool that makes an account an admin.
    promote(email) {
      execFileSync(binary, ['user', 'promote', email], {
        env: { ...this.env, LOG_FORMAT: 'json' },
        stdio: ['ignore', 'ignore', 'pipe'],
        timeout: 60_000,
      })
    },
    async stop() {
      const results = []
      for (const child of [this.api, this.worker]) {
        if (child) results.push(await child.stop())
      }
      try {
        psql(adminUrl, `DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`)
      } catch (e) {
        log(`could not drop ${dbName}: ${e.message}`)
      }
      rmSync(this.objectsDir, { recursive: true, force: true })
      return results
    },
  }
  psql(adminUrl, `CREATE DATABASE ${dbName}`)
  const slash = adminUrl.lastIndexOf('/')
  const dbUrl = `${adminUrl.slice(0, slash + 1)}${dbName}`
  const env = (stack.env = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: process.env.HOME ?? '/tmp',
    TMPDIR: process.env.TMPDIR ?? '/tmp',
    DATABASE_URL: dbUrl,
    AMQP_URL: amqpUrl,
    QUEUE_PREFIX: `${dbName}.`,
    QUEUE_RETRY_DELAYS_MS: '200,400',
    JWT_SECRET: 'e2e-test-jwt-secret-0123456789abcdef0123',
    STORAGE_SIGNING_SECRET: 'e2e-test-storage-secret-0123456789abcdef',
    STORAGE_BACKEND: 'local',
    STORAGE_LOCAL_DIR: stack.objectsDir,
    LOG_FORMAT: 'json',
    AI_PROVIDER: 'local',
    OMP_THREAD_LIMIT: '1',
    ...(process.env.ASAN_OPTIONS ? { ASAN_OPTIONS: process.env.ASAN_OPTIONS } : {}),
    ...(process.env.UBSAN_OPTIONS ? { UBSAN_OPTIONS: process.env.UBSAN_OPTIONS } : {}),
  })
  try {
    stack.worker = new Child('worker', binary, ['worker'], {
      ...env,
      WORKER_INSTANCE: `e2e-worker-${dbName}`,
      WORKER_HEARTBEAT_SECONDS: '1',
    })
    await stack.worker.waitForLine('"worker started"', 90_000)
    stack.api = new Child('api', binary, ['api'], {
      ...env,
      IMAGEPROC_HTTP_ADDR: '127.0.0.1:0',
      AUTH_COOKIE_SECURE: 'false',
      WEB_DIST_DIR: webDist,
      HTTP_HANDLER_THREADS: '4',
      DB_POOL_SIZE: '8',
      MIGRATE_ON_START: 'true',
    })
    const line = await stack.api.waitForLine('"api listening"', 90_000)
    const port = JSON.parse(line).port
    stack.baseUrl = `http://127.0.0.1:${port}`
    log(`stack up: ${stack.baseUrl} (database ${dbName})`)
    return stack
  } catch (error) {
    await stack.stop()
    throw error
  }
}
