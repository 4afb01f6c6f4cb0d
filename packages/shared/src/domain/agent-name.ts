// An agent's name (AgentInput.name, EnrolInput.name) without zod, for the bundled agent's --name:
// agent-input.ts builds its schema from these, so the two cannot drift.

export const AGENT_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;
export const AGENT_NAME_RULE = 'must be 1-63 letters, digits, "_", "." or "-", starting with a letter or digit';
