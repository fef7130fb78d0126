// Placeholder until the built-in writer lands (issue 3).
export async function runLogd(_args: string[], _onSignal: (h: (sig: number) => void) => void): Promise<number> {
  return 125;
}
