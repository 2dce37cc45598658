'use strict';

fetch('/config.json')
  .then((r) => r.json())
  .then((c) => {
    document.getElementById('client-type').textContent = c.client_type;
    document.getElementById('client-id').textContent = c.client_id;
  })
  .catch(() => {
    document.getElementById('client-type').textContent = 'unknown';
  });
