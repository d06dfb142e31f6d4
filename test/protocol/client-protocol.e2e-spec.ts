import assert from 'node:assert/strict';
import { readdirSync, readFileSync, realpathSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { CloseCode } from '@task-status/client/protocol';

// Paths are relative to the repository root, where the tests run.
const CLIENT_DIST = resolve('client/dist');
/** The client package's modules that hold the protocol, which the server imports. */
const SHARED_MODULES = ['protocol', 'update-order'];
/** Everything that is compiled against the protocol, besides the client package itself. */
const SOURCE_ROOTS = ['src', 'test', 'bench/src', 'bench/baselines'];

/** The names a built module of the client package exports, read from its declaration file. */
function exportedNames(module: string): string[] {
  const declarations = readFileSync(join(CLIENT_DIST, `${module}.d.ts`), 'utf8');
  const found = declarations.matchAll(
    /^export (?:declare )?(?:const|type|interface|class|function|enum) (\w+)/gm,
  );
  return [...found].map(([, name]) => name);
}

function typeScriptFiles(dir: string): string[] {
  return readdirSync(resolve(dir), { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith('.ts'))
    .map((entry) => relative(process.cwd(), join(entry.parentPath, entry.name)));
}

/** A file's code line by line, without comments and string contents (text may name close codes). */
function codeLines(path: string): string[] {
  return readFileSync(path, 'utf8')
    .replace(/\/\*[\s\S]*?\*\//g, (comment) => comment.replace(/[^\n]/g, ''))
    .split('\n')
    .map((line) => line.replace(/(['"`])(?:\\.|(?!\1).)*\1/g, '$1$1').replace(/\/\/.*$/, ''));
}

/**
 * The protocol is defined once, in the client package (client/src/protocol.ts and
 * update-order.ts), and the server imports it from there. These checks fail when a second
 * definition creeps back in, which is how the two copies drifted apart before.
 */
describe('the protocol has one definition', () => {
  it('resolves @task-status/client to the client package of this repository', () => {
    for (const module of SHARED_MODULES) {
      const url = import.meta.resolve(`@task-status/client/${module}`);
      assert.equal(
        realpathSync(fileURLToPath(url)),
        join(realpathSync(CLIENT_DIST), `${module}.js`),
      );
    }
  });

  it('no server, test or benchmark source declares a name the client package defines', () => {
    const names = SHARED_MODULES.flatMap(exportedNames);
    assert.ok(names.includes('ServerMessage') && names.includes('UpdateOrder'), names.join());
    // A declaration, not an import specifier: the name is followed by its definition.
    const declaration = new RegExp(
      `\\b(?:const|let|var|type|interface|class|function|enum)\\s+(${names.join('|')})\\s*(?:[=<{(:]|extends\\b|implements\\b)`,
    );
    const redefined = SOURCE_ROOTS.flatMap(typeScriptFiles).flatMap((path) =>
      codeLines(path).flatMap((line, index) => {
        const name = declaration.exec(line)?.[1];
        return name ? [`${path}:${index + 1} ${name}`] : [];
      }),
    );
    assert.deepEqual(redefined, []);
  });

  it('server code names close codes through CloseCode, never as bare numbers', () => {
    const codes = new RegExp(`\\b(?:${Object.values(CloseCode).join('|')})\\b`);
    const bare = typeScriptFiles('src')
      .filter((path) => !path.endsWith('.spec.ts'))
      .flatMap((path) =>
        codeLines(path).flatMap((line, index) =>
          codes.test(line) ? [`${path}:${index + 1} ${line.trim()}`] : [],
        ),
      );
    assert.deepEqual(bare, []);
  });
});
