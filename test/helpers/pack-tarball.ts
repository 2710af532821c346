import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { join } from 'node:path';

const run = promisify(execFile);
const ROOT = new URL('../../', import.meta.url).pathname;

/**
 * Build the repo (`npm run build`: dist/) and pack it as a user would install it, into `dest`. Scripts are off for
 * the pack: the build just ran. Resolves with the tarball's path.
 */
export async function packRouteMQ(dest: string): Promise<string> {
  await run('npm', ['run', 'build'], { cwd: ROOT });
  const { stdout } = await run('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', dest], {
    cwd: ROOT,
  });
  const [packed] = JSON.parse(stdout) as { filename: string }[];
  if (!packed) throw new Error(`npm pack printed no file: ${stdout}`);
  return join(dest, packed.filename);
}
