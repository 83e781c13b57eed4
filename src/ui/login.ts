// The sign-in form: the same users and passwords as `docker login` (robots cannot).
import { api, ApiError, type Session } from './client.ts';
import { errorBox, h } from './dom.ts';

export function login(main: HTMLElement, session: Session, params: URLSearchParams, done: () => void): void {
  main.append(h('h1', {}, 'Sign in'));
  if (session.auth !== 'token') {
    main.append(h('p', {}, 'This registry runs without authentication: there is nothing to sign in to.'));
    return;
  }
  if (session.user) {
    main.append(h('p', {}, `You are signed in as ${session.user}.`));
    return;
  }
  const user = h('input', { id: 'username', type: 'text', name: 'username', autocomplete: 'username', required: true, autocapitalize: 'none', spellcheck: 'false' });
  const pass = h('input', { id: 'password', type: 'password', name: 'password', autocomplete: 'current-password', required: true });
  const problem = h('div', {});
  const form = h(
    'form',
    {
      class: 'login',
      onsubmit: async (e: Event) => {
        e.preventDefault();
        problem.replaceChildren();
        try {
          await api('session', {}, 'POST', { username: user.value, password: pass.value });
          pass.value = '';
          location.hash = params.get('next') ?? '#/';
          done();
        } catch (err) {
          problem.append(errorBox(err instanceof ApiError ? err.message : 'Signing in failed.'));
          pass.focus();
        }
      },
    },
    problem,
    h('div', { class: 'field' }, h('label', { for: 'username' }, 'User name'), user),
    h('div', { class: 'field' }, h('label', { for: 'password' }, 'Password'), pass),
    h('button', { type: 'submit' }, 'Sign in'),
  );
  main.append(form);
  user.focus();
}
