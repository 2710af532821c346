import {
  chmodSync,
  chownSync,
  copyFileSync,
  cpSync,
  existsSync,
  linkSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  symlinkSync,
} from 'node:fs';
import { dirname, isAbsolute, join, posix } from 'node:path';
import { DockerfileParser } from 'dockerfile-ast';
import type { Instruction } from 'dockerfile-ast';

/**
 * A Docker image "built" without a Docker engine: the Dockerfile's steps carried out in a directory that stands for
 * the image's root file system. COPY copies from the build context, root-owned and not writable by others (as
 * Docker does); RUN steps are simulated one command at a time from a known list, and any other command fails the
 * build, so the simulation never silently drifts from the Dockerfile.
 */
export interface SimulatedImage {
  /** The base image of the (single) stage, e.g. `node:26-trixie-slim`. */
  readonly from: string;
  /** The host directory standing for the image's `/`. */
  readonly root: string;
  /** The container's working directory (a container path). */
  readonly workdir: string;
  /** ENV of the image, values as written (container paths). */
  readonly env: Readonly<Record<string, string>>;
  /** USER of the image (`root` when none). */
  readonly user: string;
  /** VOLUME paths (container paths). */
  readonly volumes: readonly string[];
  /** EXPOSE ports. */
  readonly exposed: readonly number[];
  /** CMD, exec form. */
  readonly cmd: readonly string[];
  /** HEALTHCHECK's CMD, exec form, if any. */
  readonly healthcheck: readonly string[] | undefined;
  /** The RUN commands, as simulated. */
  readonly runs: readonly string[];
  /** The host path of a container path. */
  hostPath(containerPath: string): string;
}

/** Image users and the host users that stand for them (the tests run as root; `nobody` has no rights of its own). */
export const SIMULATED_USERS: Readonly<Record<string, { uid: number; gid: number; name: string; group: string }>> = {
  root: { uid: 0, gid: 0, name: 'root', group: 'root' },
  node: { uid: 65534, gid: 65534, name: 'nobody', group: 'nogroup' },
};

/** What a simulated RUN command may use. */
interface RunContext {
  readonly context: string;
  readonly workdirHost: string;
  hostPath(containerPath: string): string;
}

/** The RUN commands the simulation knows, each with its effect. */
const RUN_COMMANDS: readonly { pattern: RegExp; effect: (m: RegExpExecArray, c: RunContext) => void }[] = [
  {
    // The production dependencies, as `npm ci --omit=dev` installs them: taken from the repo's node_modules (no
    // network), only the packages the lockfile does not mark `dev`, so an import of a dev-only package from the
    // app's code fails here as it would in the image.
    pattern: /^npm ci --omit=dev(?: --[a-z-]+)*$/,
    effect: (_m, c) => linkProductionDependencies(c.context, c.workdirHost),
  },
  { pattern: /^npm cache clean --force$/, effect: () => undefined },
  {
    pattern: /^mkdir -p ((?:\/[\w./-]+ ?)+)$/,
    effect: (m, c) => {
      for (const path of (m[1] as string).trim().split(' ')) mkdirSync(c.hostPath(path), { recursive: true });
    },
  },
  {
    pattern: /^chown (\w+):(\w+) (\/[\w./-]+)$/,
    effect: (m, c) => {
      const user = simulatedUser(m[1] as string);
      chownSync(c.hostPath(m[3] as string), user.uid, simulatedUser(m[2] as string).gid);
    },
  },
];

/**
 * Carry out `dockerfile` (a path) with `context` as the build context, into `root`.
 *
 * @throws Error on an instruction or RUN command the simulation does not know, or a second stage.
 */
export function buildSimulatedImage(dockerfile: string, context: string, root: string): SimulatedImage {
  const parsed = DockerfileParser.parse(readFileSync(dockerfile, 'utf8'));
  const hostPath = (path: string): string => join(root, posix.resolve('/', path));
  let from: string | undefined;
  let workdir = '/';
  let user = 'root';
  let cmd: string[] = [];
  let healthcheck: string[] | undefined;
  const env: Record<string, string> = {};
  const volumes: string[] = [];
  const exposed: number[] = [];
  const runs: string[] = [];
  mkdirSync(root, { recursive: true });
  for (const instruction of parsed.getInstructions()) {
    const keyword = instruction.getKeyword();
    const args = instruction.getArguments().map((a) => a.getValue());
    switch (keyword) {
      case 'FROM':
        if (from !== undefined) throw new Error('the simulation builds one stage only');
        from = args[0];
        break;
      case 'WORKDIR':
        workdir = posix.resolve(workdir, args[0] as string);
        mkdirSync(hostPath(workdir), { recursive: true });
        break;
      case 'COPY':
        copy(instruction, args, context, hostPath(workdir), hostPath);
        break;
      case 'RUN':
        for (const command of splitCommands(instruction.getArgumentsContent() ?? '')) {
          const known = RUN_COMMANDS.find((r) => r.pattern.test(command));
          if (!known)
            throw new Error(`the simulation does not know RUN '${command}': teach test/helpers/docker-sim.ts`);
          known.effect(known.pattern.exec(command) as RegExpExecArray, {
            context,
            workdirHost: hostPath(workdir),
            hostPath,
          });
          runs.push(command);
        }
        break;
      case 'ENV':
        for (const property of (instruction as unknown as EnvLike).getProperties())
          env[property.getName()] = property.getValue() ?? '';
        break;
      case 'VOLUME':
        volumes.push(...jsonOrWords(instruction.getArgumentsContent() ?? ''));
        break;
      case 'USER':
        user = args[0] as string;
        break;
      case 'EXPOSE':
        exposed.push(...args.map((a) => Number.parseInt(a, 10)));
        break;
      case 'CMD':
        cmd = jsonForm(instruction.getArgumentsContent() ?? '', 'CMD');
        break;
      case 'HEALTHCHECK': {
        const text = instruction.getArgumentsContent() ?? '';
        healthcheck = jsonForm(text.slice(text.indexOf('CMD') + 3), 'HEALTHCHECK CMD');
        break;
      }
      case 'STOPSIGNAL':
      case 'LABEL':
        break;
      default:
        throw new Error(`the simulation does not know ${keyword}: teach test/helpers/docker-sim.ts`);
    }
  }
  if (from === undefined) throw new Error('no FROM');
  return { from, root, workdir, env, user, volumes, exposed, cmd, healthcheck, runs, hostPath };
}

/** The host user standing for an image user. */
export function simulatedUser(name: string): { uid: number; gid: number; name: string; group: string } {
  const user = SIMULATED_USERS[name];
  if (!user) throw new Error(`the simulation has no host user for image user '${name}'`);
  return user;
}

interface EnvLike {
  getProperties(): { getName(): string; getValue(): string | null }[];
}

function copy(
  instruction: Instruction,
  args: string[],
  context: string,
  workdirHost: string,
  hostPath: (p: string) => string,
): void {
  const flags = (instruction as unknown as { getFlags(): { getName(): string }[] }).getFlags();
  if (flags.length > 0) throw new Error(`the simulation copies without flags (--from, --chown): ${args.join(' ')}`);
  const dest = args.at(-1) as string;
  const sources = args.slice(0, -1);
  const target = isAbsolute(dest) ? hostPath(dest) : join(workdirHost, dest);
  for (const source of sources) {
    const from = join(context, source);
    // `COPY dir ./dir` copies the directory's contents into dest; `COPY a b ./` puts each file into dest.
    const into = lstatSync(from).isDirectory() || !dest.endsWith('/') ? target : join(target, source);
    mkdirSync(dirname(into), { recursive: true });
    cpSync(from, into, { recursive: true });
    ownByRoot(into);
  }
}

/** As in an image built by root: owned by root, writable by nobody else. */
function ownByRoot(path: string): void {
  const stat = lstatSync(path);
  chownSync(path, 0, 0);
  chmodSync(path, stat.mode & 0o7755);
  if (stat.isDirectory()) for (const entry of readdirSync(path)) ownByRoot(join(path, entry));
}

/** `a && b && c` → its commands (the Dockerfile's RUN steps use no other shell syntax). */
function splitCommands(script: string): string[] {
  return script
    .split('&&')
    .map((c) => c.replace(/\s+/g, ' ').trim())
    .filter((c) => c.length > 0);
}

function jsonForm(text: string, what: string): string[] {
  const trimmed = text.trim();
  if (!trimmed.startsWith('[')) throw new Error(`${what} must use the exec (JSON) form, got: ${trimmed}`);
  return JSON.parse(trimmed) as string[];
}

function jsonOrWords(text: string): string[] {
  const trimmed = text.trim();
  return trimmed.startsWith('[') ? (JSON.parse(trimmed) as string[]) : trimmed.split(/\s+/);
}

/** Link every non-dev package of `context`'s package-lock.json from `context/node_modules` into `target`. */
function linkProductionDependencies(context: string, target: string): void {
  const lock = JSON.parse(readFileSync(join(context, 'package-lock.json'), 'utf8')) as {
    packages: Record<string, { dev?: boolean; link?: boolean }>;
  };
  for (const [path, entry] of Object.entries(lock.packages)) {
    // Top-level packages only: a nested node_modules comes with the package that holds it.
    // Packages for another platform (esbuild's) are in the lockfile but not on disk.
    if (!/^node_modules\/(?:@[^/]+\/)?[^/]+$/.test(path) || entry.dev === true) continue;
    if (!existsSync(join(context, path))) continue;
    linkTree(join(context, path), join(target, path));
  }
}

/**
 * Recreate `from` at `to` with hard links (a copy across file systems). Not symlinks: the unprivileged user must
 * not need access to the checkout's path (a clone under /root is out of its reach), and packages then resolve
 * their own imports from the image's node_modules, as in the image.
 */
function linkTree(from: string, to: string): void {
  const stat = lstatSync(from);
  if (stat.isSymbolicLink()) return symlinkSync(readlinkSync(from), to);
  if (stat.isDirectory()) {
    mkdirSync(to, { recursive: true, mode: 0o755 });
    for (const entry of readdirSync(from)) linkTree(join(from, entry), join(to, entry));
    return;
  }
  try {
    linkSync(from, to);
  } catch (err) {
    if ((err as { code?: unknown }).code !== 'EXDEV') throw err;
    copyFileSync(from, to);
    chmodSync(to, stat.mode & 0o755);
  }
}

/** The exec form of `dockerfile`'s HEALTHCHECK CMD, without building anything (for the compose file's check). */
export function dockerfileHealthcheck(dockerfile: string): string[] | undefined {
  const parsed = DockerfileParser.parse(readFileSync(dockerfile, 'utf8'));
  const text = parsed.getHEALTHCHECKs().at(-1)?.getArgumentsContent();
  return text == null ? undefined : jsonForm(text.slice(text.indexOf('CMD') + 3), 'HEALTHCHECK CMD');
}

/** `dockerfile`'s ENV, as written (container paths), without building anything. */
export function dockerfileEnv(dockerfile: string): Record<string, string> {
  const parsed = DockerfileParser.parse(readFileSync(dockerfile, 'utf8'));
  return Object.fromEntries(
    parsed.getENVs().flatMap((env) => env.getProperties().map((p) => [p.getName(), p.getValue() ?? ''] as const)),
  );
}
