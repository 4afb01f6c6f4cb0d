import { z } from 'zod';
import { LabelSelectorError, parseLabelSelector } from '../domain/label-selector.ts';

/** Longer than any selector a person writes over a fleet's labels, short enough for a URL. */
export const MAX_SELECTOR_LENGTH = 4096;

/**
 * A label selector in a query parameter, parsed where it is validated: a parse error is the 400
 * `validation_failed` naming the parameter, with the 0-based position in the message and in
 * `details.position` (errors/zod-error.ts).
 */
export const labelSelectorParam = (description: string) =>
  z
    .string()
    .max(MAX_SELECTOR_LENGTH)
    .transform((text, ctx) => {
      try {
        return parseLabelSelector(text);
      } catch (err) {
        if (!(err instanceof LabelSelectorError)) throw err;
        ctx.addIssue({ code: 'custom', message: err.message, params: { position: err.position } });
        return z.NEVER;
      }
    })
    .meta({
      type: 'string',
      maxLength: MAX_SELECTOR_LENGTH,
      description: `${description} Kubernetes syntax: \`k=v\`, \`k==v\`, \`k!=v\`, \`k in (a,b)\`, \`k notin (a,b)\`, \`k\`, \`!k\`, comma = and; \`!=\` and \`notin\` also match objects without the key.`,
      example: 'env=prod,role in (web,api),!canary',
    });
