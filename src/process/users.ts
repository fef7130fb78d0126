// --user USER[:GROUP] -> uid, gid and supplementary groups, from /etc/passwd and /etc/group
// (names or numbers). The parsers are pure; resolveUser reads the files.
import { readFileSync } from 'node:fs';
import { UsageError } from '../values';

export interface Credentials {
  uid: number;
  gid: number;
  groups: number[];
  /** from the passwd entry, when there is one (HOME, USER and LOGNAME of the service) */
  name?: string;
  home?: string;
}

interface PasswdEntry { name: string; uid: number; gid: number; home: string }
interface GroupEntry { name: string; gid: number; members: string[] }

export function parsePasswd(text: string): PasswdEntry[] {
  return text.split('\n').flatMap((line) => {
    const f = line.split(':');
    if (f.length < 4 || line.startsWith('#')) return [];
    return [{ name: f[0], uid: Number(f[2]), gid: Number(f[3]), home: f[5] ?? '' }];
  });
}

export function parseGroup(text: string): GroupEntry[] {
  return text.split('\n').flatMap((line) => {
    const f = line.split(':');
    if (f.length < 4 || line.startsWith('#')) return [];
    return [{ name: f[0], gid: Number(f[2]), members: f[3].split(',').filter(Boolean) }];
  });
}

const isNumber = (s: string) => /^\d+$/.test(s);

export function resolveCredentials(spec: string, passwd: PasswdEntry[], groups: GroupEntry[]): Credentials {
  const [userPart, groupPart, extra] = spec.split(':');
  if (!userPart || extra !== undefined || groupPart === '') throw new UsageError(`invalid user '${spec}' (USER[:GROUP])`);
  const entry = passwd.find((p) => (isNumber(userPart) ? p.uid === Number(userPart) : p.name === userPart));
  if (!entry && !isNumber(userPart)) throw new UsageError(`unknown user '${userPart}'`);
  const uid = entry ? entry.uid : Number(userPart);
  let gid = entry ? entry.gid : uid;
  if (groupPart !== undefined) {
    const g = groups.find((x) => (isNumber(groupPart) ? x.gid === Number(groupPart) : x.name === groupPart));
    if (!g && !isNumber(groupPart)) throw new UsageError(`unknown group '${groupPart}'`);
    gid = g ? g.gid : Number(groupPart);
  }
  if (uid > 2 ** 32 - 2 || gid > 2 ** 32 - 2) throw new UsageError(`user or group id out of range in '${spec}'`);
  const supplementary = entry ? groups.filter((g) => g.members.includes(entry.name)).map((g) => g.gid) : [];
  const credentials: Credentials = { uid, gid, groups: [...new Set([gid, ...supplementary])] };
  if (entry) Object.assign(credentials, { name: entry.name, home: entry.home });
  return credentials;
}

function readOr(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

export function resolveUser(spec: string): Credentials {
  return resolveCredentials(spec, parsePasswd(readOr('/etc/passwd')), parseGroup(readOr('/etc/group')));
}
