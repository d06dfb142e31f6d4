import { Injectable } from '@nestjs/common';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface DemoFile {
  body: Buffer;
  contentType: string;
}

/** The page's own files, served under /demo/. */
const PAGE_ASSETS: Readonly<Record<string, string>> = {
  'demo.css': 'text/css; charset=utf-8',
  'demo.js': 'text/javascript; charset=utf-8',
};

/** Modules of client/dist; the Node-only publisher entry point is never served. */
const CLIENT_MODULE = /^(?!publisher\.js$)[a-z0-9-]+\.js$/;

/**
 * The nearest directory at or above `start` that holds a package.json: the repository root from
 * dist/, build/ or a test build, and /app in the Docker image.
 */
export function findPackageRoot(start: string): string {
  let dir = start;
  for (;;) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`No package.json at or above ${start}`);
    dir = parent;
  }
}

/**
 * Reads the demo page from `public/` and the typed client's ES modules from `client/dist/`,
 * both beside package.json. Read per request: this is a development aid, not a hot path, and
 * an edited page then shows on reload.
 */
@Injectable()
export class DemoAssets {
  readonly publicDir: string;
  readonly clientDir: string;

  constructor() {
    const root = findPackageRoot(dirname(fileURLToPath(import.meta.url)));
    this.publicDir = join(root, 'public');
    this.clientDir = join(root, 'client', 'dist');
  }

  /** index.html, told whether the simulate button may be shown. */
  async page(simulateEnabled: boolean): Promise<string> {
    const html = await readFile(join(this.publicDir, 'index.html'), 'utf8');
    return html.replace('data-simulate="false"', `data-simulate="${String(simulateEnabled)}"`);
  }

  pageAsset(name: string): Promise<DemoFile | undefined> {
    const contentType = Object.hasOwn(PAGE_ASSETS, name) ? PAGE_ASSETS[name] : undefined;
    if (!contentType) return Promise.resolve(undefined);
    return this.read(join(this.publicDir, name), contentType);
  }

  clientModule(name: string): Promise<DemoFile | undefined> {
    // The pattern admits plain file names only, so no path leaves the directory.
    if (!CLIENT_MODULE.test(name)) return Promise.resolve(undefined);
    return this.read(join(this.clientDir, name), 'text/javascript; charset=utf-8');
  }

  private async read(path: string, contentType: string): Promise<DemoFile | undefined> {
    try {
      return { body: await readFile(path), contentType };
    } catch {
      return undefined; // Missing (e.g. the client is not built): answered 404.
    }
  }
}
