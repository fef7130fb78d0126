// Unit tests that spawn real children: a started reaper for the body, always stopped after it (a
// failed assertion must not leave a reaper running and hang the test file).
import { Reaper } from '../../src/process/reaper';

export async function withReaper(body: (reaper: Reaper) => Promise<void>): Promise<void> {
  const reaper = new Reaper();
  reaper.start();
  try {
    await body(reaper);
  } finally {
    reaper.stop();
  }
}
