/** The account's Durable Object (there is one account per double). */
export function account(env) {
  return env.ACCOUNT.get(env.ACCOUNT.idFromName("account"));
}
