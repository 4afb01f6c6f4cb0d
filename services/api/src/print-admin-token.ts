/** The one time the generated admin token is shown; it is stored only as a hash. */
export function printAdminToken(token: string | undefined, url: string): void {
  if (!token) return;
  process.stdout.write(
    `\n  vmo admin token (shown once, store it now):\n\n    ${token}\n\n` +
      `  try:  curl -H "Authorization: Bearer ${token}" ${url}/v1/jobs\n\n`,
  );
}
