import type { ILinkHandler } from '@xterm/xterm';

/**
 * The console's OSC 8 hyperlinks (`printf '\e]8;;https://…\e\\text\e]8;;\e\\'`): a job's output is
 * anyone's text, so a link is opened only when it is http(s), in a new tab that gets neither this
 * page (noopener: no `window.opener` to steer it) nor its address (noreferrer: a job id in a URL
 * is nobody else's business). Hovering shows where it goes (the title): the text a program prints
 * need not be its URL. xterm's own default is a confirm() dialog per click; this replaces it.
 */
export function consoleLinkHandler(): ILinkHandler {
  let titled: HTMLElement | undefined;
  return {
    allowNonHttpProtocols: false, // xterm then drops the others before they become links; safeLink checks again
    activate(event, text) {
      const url = safeLink(text);
      if (!url) return;
      event.preventDefault();
      window.open(url, '_blank', 'noopener,noreferrer');
    },
    hover(event, text) {
      titled = event.target instanceof HTMLElement ? event.target : undefined;
      titled?.setAttribute('title', safeLink(text) ?? `${text} (not opened: only http and https links are)`);
    },
    leave() {
      titled?.removeAttribute('title');
      titled = undefined;
    },
  };
}

/** The link as it will be opened (normalised by the URL parser), when it is http or https; else undefined. */
export function safeLink(text: string): string | undefined {
  try {
    const url = new URL(text);
    return url.protocol === 'http:' || url.protocol === 'https:' ? url.href : undefined;
  } catch {
    return undefined;
  }
}
