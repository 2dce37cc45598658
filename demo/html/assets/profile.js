'use strict';

// Everything here comes from the module's coze_auth_userinfo endpoint.
// The demo turns coze_auth_userinfo_tokens on to show the tokens; a real
// site keeps them in nginx and never sends them to the browser.

const $ = (id) => document.getElementById(id);
const tokens = {};

function mask(value) {
  if (!value) return '';
  return value.slice(0, 6) + '•'.repeat(Math.max(0, value.length - 10))
         + value.slice(-4);
}

function showToken(id) {
  const el = $(id);
  el.textContent = el.dataset.masked === '1' ? mask(tokens[id])
                                             : tokens[id] || '';
}

function render(me) {
  $('avatar').src = me.avatar_url || '';
  $('nick-name').textContent = me.nick_name || me.user_name || me.user_id;
  $('user-id').textContent = me.user_id;
  $('user-name').textContent = me.user_name;
  tokens['access-token'] = me.access_token;
  tokens['refresh-token'] = me.refresh_token;
  showToken('access-token');
  showToken('refresh-token');
  $('expires').textContent = me.expires_at
    ? `${me.expires_at} (${new Date(me.expires_at * 1000).toLocaleString()})`
    : '';
}

async function load(method) {
  const r = await fetch('/me', {
    method,
    headers: { Accept: 'application/json' },
  });
  if (r.status === 401) {
    window.location.href = '/profile';
    return null;
  }
  if (!r.ok) throw new Error(`HTTP ${r.status}`);
  return r.json();
}

document.querySelectorAll('[data-toggle]').forEach((b) => {
  b.addEventListener('click', () => {
    const el = $(b.dataset.toggle);
    el.dataset.masked = el.dataset.masked === '1' ? '0' : '1';
    b.textContent = el.dataset.masked === '1' ? 'Show' : 'Hide';
    showToken(b.dataset.toggle);
  });
});

document.querySelectorAll('[data-copy]').forEach((b) => {
  b.addEventListener('click', async () => {
    try {
      await navigator.clipboard.writeText(tokens[b.dataset.copy] || '');
      $('status').textContent = 'Copied';
    } catch (e) {
      $('status').textContent = 'Copy failed: ' + e.message;
    }
  });
});

$('refresh').addEventListener('click', async () => {
  $('status').textContent = 'Refreshing…';
  try {
    const me = await load('POST');
    if (me) {
      render(me);
      $('status').textContent = 'Token refreshed';
    }
  } catch (e) {
    $('status').textContent = 'Refresh failed: ' + e.message;
  }
});

load('GET').then((me) => me && render(me))
  .catch((e) => { $('status').textContent = 'Error: ' + e.message; });
