import { customType } from 'drizzle-orm/pg-core';

/** Output bytes are stored exactly as written: never transcoded, never a string. */
export const bytea = customType<{ data: Buffer; driverData: Buffer }>({
  dataType: () => 'bytea',
});
