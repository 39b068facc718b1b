// netdx survey pages: row clicks on the overview; on the unit page the
// overlay toggles, the zoom, the answer form (built from /lexicon.json and
// the reader's last answer), autosave and the keyboard shortcuts.
// Data never goes through innerHTML: the DOM is built with textContent.
'use strict';

(function () {
  const page = document.body.dataset.page;
  if (page === 'overview') overview();
  if (page === 'unit') unitPage();

  function el(tag, props, children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(props || {})) {
      if (k === 'text') e.textContent = v;
      else if (k === 'class') e.className = v;
      else if (k in e && typeof v !== 'string') e[k] = v;
      else e.setAttribute(k, v);
    }
    for (const c of children || []) e.append(c);
    return e;
  }

  function overview() {
    for (const tr of document.querySelectorAll('tr.unit-row')) {
      tr.addEventListener('click', (ev) => {
        if (!ev.target.closest('a')) location.href = tr.dataset.href;
      });
    }
    const row = location.hash && document.getElementById(location.hash.slice(1));
    if (row) {
      row.classList.add('current');
      row.scrollIntoView({ block: 'center' });
    }
  }

  // ---- the unit page ----------------------------------------------------
  const ASSOC = ['malignant', 'benign', 'both', 'none', 'unsure'];
  const NONLEX = [
    ['anat.texture', 'Normal / dense tissue'],
    ['anat.breast_border', 'Skin or breast edge'],
    ['anat.pectoral_muscle', 'Pectoral muscle'],
    ['calc_benign.vascular', 'Vessel calcification'],
    ['anat.artifact', 'Artifact'],
    ['', 'Other (describe it in the text)'],
  ];

  function unitPage() {
    toggles();
    zoom();
    const form = document.getElementById('answer');
    if (form) answerForm(form);
  }

  // The overlay toggles keep their state from unit to unit (this tab only).
  function toggles() {
    const hl = document.getElementById('t-hl');
    const ol = document.getElementById('t-ol');
    const kept = (k) => { try { return sessionStorage.getItem(k); } catch (e) { return null; } };
    const keep = (k, v) => { try { sessionStorage.setItem(k, v); } catch (e) { /* private mode */ } };
    if (hl && kept('ndx-hl')) hl.checked = kept('ndx-hl') === '1';
    if (ol && kept('ndx-ol')) ol.checked = kept('ndx-ol') === '1';
    const apply = () => {
      document.body.classList.toggle('no-hl', !!(hl && !hl.checked));
      document.body.classList.toggle('show-ol', !!(ol && ol.checked));
      if (hl) keep('ndx-hl', hl.checked ? '1' : '0');
      if (ol) keep('ndx-ol', ol.checked ? '1' : '0');
    };
    if (hl) hl.addEventListener('change', apply);
    if (ol) ol.addEventListener('change', apply);
    apply();
  }

  function zoom() {
    const dlg = document.getElementById('zoom');
    const buttons = Array.from(document.querySelectorAll('button.zoom'));
    if (!dlg || !buttons.length) return;
    const img = document.getElementById('zoom-m');
    const box = document.getElementById('zoom-box');
    let at = 0;
    const place = () => {
      const b = buttons[at].dataset.box.split(' ').map(Number);
      const w = img.naturalWidth, h = img.naturalHeight;
      if (!w || !h) return;
      box.style.left = (100 * b[0] / w) + '%';
      box.style.top = (100 * b[1] / h) + '%';
      box.style.width = (100 * b[2] / w) + '%';
      box.style.height = (100 * b[3] / h) + '%';
    };
    img.addEventListener('load', place);
    const show = (i) => {
      at = (i + buttons.length) % buttons.length;
      const btn = buttons[at];
      document.getElementById('zoom-title').textContent = 'Patch ' + btn.dataset.n;
      const big = document.getElementById('zoom-patch');
      big.replaceChildren(...Array.from(btn.querySelectorAll('img'), (x) => x.cloneNode()));
      // the patch at its own resolution (tiles are 192..320 px), at least 288 px
      const side = Math.max(288, btn.querySelector('img.tile').naturalWidth || 0) + 'px';
      big.style.width = side;
      big.style.height = side;
      const lab = btn.dataset.label;
      document.getElementById('zoom-label').textContent = lab === undefined ? '' :
        lab === '1' ? 'Label: + (cancer-positive patch)' : 'Label: \u2212 (cancer-negative patch)';
      img.src = '/img/' + btn.dataset.m;
      if (img.complete) place();
      if (!dlg.open) dlg.showModal();
    };
    buttons.forEach((b, i) => b.addEventListener('click', () => show(i)));
    document.getElementById('zoom-close').addEventListener('click', () => dlg.close());
    document.getElementById('zoom-prev').addEventListener('click', () => show(at - 1));
    document.getElementById('zoom-next').addEventListener('click', () => show(at + 1));
    dlg.addEventListener('click', (ev) => { if (ev.target === dlg) dlg.close(); });
    dlg.addEventListener('keydown', (ev) => {
      if (ev.key === 'ArrowRight') { show(at + 1); ev.preventDefault(); }
      if (ev.key === 'ArrowLeft') { show(at - 1); ev.preventDefault(); }
      ev.stopPropagation();
    });
  }

  async function answerForm(form) {
    const status = document.getElementById('status');
    const list = document.getElementById('phenomena');
    const unit = Number(form.dataset.unit);
    const say = (text, bad) => {
      status.textContent = text;
      status.classList.toggle('error', !!bad);
    };
    let lexicon, current;
    try {
      const [lx, an] = await Promise.all([
        fetch('/lexicon.json', { credentials: 'same-origin' }),
        fetch('/api/answer?unit=' + unit, { credentials: 'same-origin' }),
      ]);
      if (!lx.ok || !an.ok) throw new Error('HTTP ' + (lx.ok ? an.status : lx.status));
      lexicon = await lx.json();
      current = await an.json();
    } catch (e) {
      say('Could not load the form: ' + e.message, true);
      return;
    }
    const terms = indexLexicon(lexicon);
    let focused = null;
    const addPhen = (p) => {
      const block = phenomenonBlock(terms, p || {}, () => { renumber(); changed(); });
      block.addEventListener('focusin', () => setFocus(block));
      block.addEventListener('click', () => setFocus(block));
      list.append(block);
      renumber();
      return block;
    };
    const setFocus = (block) => {
      if (focused) focused.classList.remove('focused');
      focused = block;
      if (block) block.classList.add('focused');
    };
    const renumber = () => {
      Array.from(list.children).forEach((b, i) => {
        b.querySelector('legend').textContent = 'Phenomenon ' + (i + 1);
        for (const r of b.querySelectorAll('.conf input')) r.name = 'confidence-' + (i + 1);
      });
      if (focused && !focused.isConnected) setFocus(list.lastElementChild);
    };
    fill(form, current.answer, addPhen);
    if (!list.children.length) addPhen();
    setFocus(list.firstElementChild);
    document.getElementById('add-ph').addEventListener('click', () => {
      const b = addPhen();
      setFocus(b);
      b.querySelector('select').focus();
      changed();
    });

    // saving: debounced autosave on every change, the explicit save
    let saved = JSON.stringify(collect(form));
    let started = performance.now();
    let timer = null;
    let chain = Promise.resolve(true);
    const save = (force) => {
      chain = chain.then(async () => {
        const answer = collect(form);
        const text = JSON.stringify(answer);
        if (!force && text === saved) return true;
        const seconds = Math.max(0, (performance.now() - started) / 1000);
        say('Saving\u2026');
        try {
          const res = await fetch('/api/answer', {
            method: 'POST', credentials: 'same-origin', keepalive: true,
            headers: { 'Content-Type': 'application/json' },
            body: JSON.stringify({ unit: unit, answer: answer, seconds: seconds }),
          });
          const out = await res.json();
          if (!res.ok) {
            say('Not saved: ' + (out.error || res.status), true);
            return false;
          }
          saved = text;
          started = performance.now();
          current.revision = out.revision;
          say('Saved (revision ' + out.revision + ')');
          return true;
        } catch (e) {
          say('Not saved: ' + e.message, true);
          return false;
        }
      });
      return chain;
    };
    const changed = () => {
      clearTimeout(timer);
      timer = setTimeout(() => save(false), 800);
    };
    form.addEventListener('input', changed);
    form.addEventListener('change', changed);
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      clearTimeout(timer);
      if (await save(!current.revision)) location.href = form.dataset.back;
    });
    const leave = async (href) => {
      clearTimeout(timer);
      if (await save(false)) location.href = href;
    };
    for (const id of ['prev', 'next', 'overview']) {
      const a = document.getElementById(id);
      if (a) a.addEventListener('click', (ev) => { ev.preventDefault(); leave(a.href); });
    }
    window.addEventListener('pagehide', () => {
      if (JSON.stringify(collect(form)) !== saved) save(false);
    });
    shortcuts(leave, () => focused || list.firstElementChild || addPhen(), changed);
    if (current.revision) say('Your answer (revision ' + current.revision + ') is loaded.');
  }

  function shortcuts(leave, phen, changed) {
    document.addEventListener('keydown', (ev) => {
      if (ev.ctrlKey || ev.metaKey || ev.altKey || ev.defaultPrevented) return;
      const t = ev.target;
      const typing = t.closest && t.closest('textarea, select, input[type="text"]');
      if (typing || document.getElementById('zoom').open) return;
      const onRadio = t.matches && t.matches('input[type="radio"]');
      const go = (id) => {
        const a = document.getElementById(id);
        if (a) { ev.preventDefault(); leave(a.href); }
      };
      if (ev.key === 'n' || (ev.key === 'ArrowRight' && !onRadio)) go('next');
      else if (ev.key === 'p' || (ev.key === 'ArrowLeft' && !onRadio)) go('prev');
      else if (/^[1-5]$/.test(ev.key)) {
        const r = phen().querySelector('.conf input[value="' + ev.key + '"]');
        r.checked = true;
        ev.preventDefault();
        changed();
      }
    });
  }

  // ---- the lexicon and the phenomenon blocks ------------------------------
  function indexLexicon(lx) {
    const byId = new Map();
    const cats = [];
    for (const c of lx.categories || []) {
      const birads = !String(c.source || '').startsWith('project extension');
      for (const d of c.descriptors || []) byId.set(d.id, { name: d.name, def: d.definition || '', cat: c.name });
      if (birads) cats.push(c);
    }
    return { byId, cats };
  }

  function phenomenonBlock(terms, p, onRemove) {
    const chips = el('div', { class: 'chips', 'aria-label': 'Terms chosen' });
    const ids = [];
    const redraw = () => {
      chips.replaceChildren();
      if (!ids.length) chips.append(el('span', { class: 'none', text: 'No term chosen yet.' }));
      ids.forEach((id, i) => {
        const t = terms.byId.get(id);
        const name = t ? t.name : id;
        const x = el('button', { type: 'button', text: '\u00d7', 'aria-label': 'Remove ' + name });
        x.addEventListener('click', () => { ids.splice(i, 1); redraw(); block.dispatchEvent(new Event('change', { bubbles: true })); });
        chips.append(el('span', { class: 'chip', 'data-id': id, title: t ? t.cat + ': ' + t.def : id, text: name }, [x]));
      });
    };
    const add = (id) => {
      if (id && !ids.includes(id)) ids.push(id);
      redraw();
    };
    const cat = el('select', { class: 'cat' }, [el('option', { value: '', text: 'Choose a category\u2026' })]);
    terms.cats.forEach((c, i) => cat.append(el('option', { value: String(i), text: c.name })));
    const desc = el('select', { class: 'desc', disabled: true }, [el('option', { value: '', text: '\u2014' })]);
    cat.addEventListener('change', () => {
      desc.replaceChildren(el('option', { value: '', text: 'Choose a term\u2026' }));
      const c = terms.cats[Number(cat.value)];
      desc.disabled = !c;
      for (const d of (c ? c.descriptors : [])) desc.append(el('option', { value: d.id, text: d.name, title: d.definition || '' }));
    });
    desc.addEventListener('change', () => { add(desc.value); desc.value = ''; });
    const other = el('select', { class: 'nonlex' }, [el('option', { value: '-', text: 'Choose\u2026' })]);
    for (const [id, name] of NONLEX) other.append(el('option', { value: id, text: name, title: id ? id : 'No lexicon term: free text only' }));
    const text = el('textarea', { class: 'text', rows: '2' });
    other.addEventListener('change', () => {
      if (other.value === '') text.focus();
      else if (other.value !== '-') add(other.value);
      other.value = '-';
    });
    const assoc = el('select', { class: 'assoc' }, [el('option', { value: '', text: '\u2014' })]);
    for (const a of ASSOC) assoc.append(el('option', { value: a, text: a[0].toUpperCase() + a.slice(1) }));
    const conf = el('fieldset', { class: 'conf' }, [el('legend', { text: 'Confidence (1 low \u2013 5 high)' })]);
    for (let k = 1; k <= 5; k++) conf.append(el('label', {}, [el('input', { type: 'radio', value: String(k) }), ' ' + k]));
    const remove = el('button', { type: 'button', class: 'remove', text: 'Remove' });
    const uid = 'ph' + Math.random().toString(36).slice(2, 9);
    const labelled = (text_, ctl) => { ctl.id = uid + '-' + ctl.className; return el('label', { for: ctl.id, text: text_ }); };
    const block = el('fieldset', { class: 'phen' }, [
      el('legend', { text: 'Phenomenon' }), remove,
      chips,
      el('div', { class: 'row pick' }, [
        el('div', {}, [labelled('BI-RADS category', cat), cat]),
        el('div', {}, [labelled('BI-RADS term', desc), desc])]),
      el('div', { class: 'row' }, [labelled('Or a term outside BI-RADS', other), other]),
      el('div', { class: 'row' }, [labelled('Description (free text)', text), text]),
      el('div', { class: 'row' }, [labelled('Association with breast cancer', assoc), assoc]),
      conf,
    ]);
    remove.addEventListener('click', () => { block.remove(); onRemove(); });
    for (const id of p.descriptors || []) add(id);
    if (!ids.length) redraw();
    text.value = p.text || '';
    assoc.value = p.association || '';
    if (p.confidence) conf.querySelector('input[value="' + p.confidence + '"]').checked = true;
    block.collect = () => {
      const c = conf.querySelector('input:checked');
      return {
        descriptors: ids.slice(), text: text.value,
        association: assoc.value || null, confidence: c ? Number(c.value) : null,
      };
    };
    return block;
  }

  function radioValue(form, name) {
    const r = form.querySelector('input[name="' + name + '"]:checked');
    return r ? r.value : null;
  }

  function collect(form) {
    return {
      recognizable: radioValue(form, 'recognizable'),
      association: radioValue(form, 'association'),
      multiplicity: radioValue(form, 'multiplicity'),
      phenomena: Array.from(document.getElementById('phenomena').children, (b) => b.collect()),
      comment: document.getElementById('comment').value,
    };
  }

  function fill(form, a, addPhen) {
    if (!a) return;
    for (const name of ['recognizable', 'association', 'multiplicity']) {
      const r = a[name] && form.querySelector('input[name="' + name + '"][value="' + a[name] + '"]');
      if (r) r.checked = true;
    }
    for (const p of a.phenomena || []) addPhen(p);
    document.getElementById('comment').value = a.comment || '';
  }
})();
