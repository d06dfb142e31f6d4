// scheme://user:password@ -> scheme://user:***@ (also scheme://:password@, as Redis URLs often are).
// The password runs to the last @ before the path, as URL parsers read it.
const URL_PASSWORD = /\b([a-z][a-z0-9+.-]*:\/\/[^\s/:@]*):[^\s/]*@/gi;

/** Masks the passwords of URLs in a text (a REDIS_URL in an error message, say) before it is shown. */
export function redactUrlCredentials(text: string): string {
  return text.replace(URL_PASSWORD, '$1:***@');
}
