/**
 * The one job message for a refused identity file, whatever the reason (missing, forbidden, not
 * a regular file, too big, not a key): only the path and the host differ.
 */
export const keyRefusal = (path: string) =>
  new RegExp(`^identity file ${path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} is not a readable key under VMO_SSH_KEY_DIRS \\(for [^;]+; the worker's log says why\\)$`);
