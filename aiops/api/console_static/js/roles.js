// What a token may do: pages render an action only when the token holds its role, else a note saying so.
import { can, state } from "./api.js";
import { h } from "./dom.js";

export function needs(role, what) {
  if (can(role)) return null;
  return h("p", { class: "note", "data-missing-role": role },
    `${what} needs the ${role} role; this token (${state.name}) has ${state.roles.join(", ") || "no roles"}.`);
}

export { can };
