import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { DemoAssets, findPackageRoot } from './demo-assets.js';

describe('findPackageRoot', () => {
  const root = mkdtempSync(join(tmpdir(), 'demo-assets-'));
  after(() => rmSync(root, { recursive: true, force: true }));

  it('climbs from a build folder to the directory with package.json', () => {
    // Arrange: the layouts of dist/ and of a test build.
    writeFileSync(join(root, 'package.json'), '{}');
    const nested = join(root, 'build-x', 'src', 'demo');
    mkdirSync(nested, { recursive: true });

    // Act
    const found = findPackageRoot(nested);

    // Assert
    assert.equal(found, root);
  });
});

describe('DemoAssets', () => {
  const assets = new DemoAssets();

  it('serves the page with the simulate switch set', async () => {
    // Act
    const on = await assets.page(true);
    const off = await assets.page(false);

    // Assert
    assert.match(on, /<html lang="en" data-simulate="true">/);
    assert.match(off, /<html lang="en" data-simulate="false">/);
  });

  it('serves only the page files it knows', async () => {
    // Act
    const script = await assets.pageAsset('demo.js');
    const others = await Promise.all(
      ['index.html', '../package.json', 'toString', '__proto__'].map((name) =>
        assets.pageAsset(name),
      ),
    );

    // Assert
    assert.equal(script?.contentType, 'text/javascript; charset=utf-8');
    assert.deepEqual(others, [undefined, undefined, undefined, undefined]);
  });

  it('never serves the publisher, a path or a file that is not a module', async () => {
    // Act
    const refused = await Promise.all(
      ['publisher.js', '../index.js', '..%2Findex.js', 'index.d.ts', 'index.js.map', '.js'].map(
        (name) => assets.clientModule(name),
      ),
    );

    // Assert
    assert.deepEqual(refused, Array(6).fill(undefined));
  });
});
