/** Who is calling. Today every user token is an admin token; scopes come with tenancy. */
export interface Principal {
  tokenId: string;
  name: string;
  role: 'admin';
}

export type AuthEnv = { Variables: { principal: Principal } };
