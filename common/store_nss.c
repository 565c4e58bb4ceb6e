/* store_nss.c: what the host's other NSS sources (files, sss, ldap...)
 * hold, asked by the store before it hands out a name or an id: one point
 * lookup through the whole NSS configuration, or a snapshot of every
 * entry read once (k8s_store_nss_snapshot, for sync). */
#include "store.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_int.h"
#include "util.h"

/* ------------------------------------------------ other NSS sources */

/* One point lookup through the whole NSS configuration (our own module
 * included, hence own_user/k8s_store_own_group).  0 or an errno: the caller fails
 * closed when NSS cannot answer. */
int k8s_store_nss_lookup(int group, const char *name, uint32_t id, struct nss_hit *hit)
{
	size_t len = 16384;
	char *buf = NULL;
	int rc;

	memset(hit, 0, sizeof(*hit));
	for (;;) {
		struct passwd pw, *pr = NULL;
		struct group gr, *grr = NULL;
		char *nb = realloc(buf, len);

		if (nb == NULL) {
			rc = ENOMEM;
			break;
		}
		buf = nb;
		if (group)
			rc = name ? getgrnam_r(name, &gr, buf, len, &grr) : getgrgid_r(id, &gr, buf, len, &grr);
		else
			rc = name ? getpwnam_r(name, &pw, buf, len, &pr) : getpwuid_r(id, &pw, buf, len, &pr);
		if (rc == ERANGE && len < (1u << 24)) {
			len *= 4;
			continue;
		}
		/* Not found is rc 0 with a NULL result; some modules report
		 * ENOENT/ESRCH/EBADF/EPERM for it (getpwnam(3)). */
		if (rc == ENOENT || rc == ESRCH || rc == EBADF || rc == EPERM)
			rc = 0;
		if (rc == 0 && (pr != NULL || grr != NULL)) {
			hit->found = 1;
			hit->id = group ? grr->gr_gid : pr->pw_uid;
			snprintf(hit->name, sizeof(hit->name), "%s", group ? grr->gr_name : pr->pw_name);
		}
		break;
	}
	free(buf);
	return rc;
}

/* An NSS answer that is this store's own entry: in the model, or in the
 * files libnss_k8s serves (also when removed from the model since). */
static int own_user(struct k8s_store *st, const char *name, uint32_t uid)
{
	struct k8s_store_user *u;
	struct k8s_sf_user v;

	if (k8s_store_lookup_user(st, name, &u) == 1 && (uint32_t)u->uid == uid)
		return 1;
	return k8s_sfv_user_by_name(&st->priv->view, name, &v) == 1 && v.uid == uid;
}

int k8s_store_own_group(struct k8s_store *st, const char *name, uint32_t gid)
{
	struct k8s_store_group *g;
	struct k8s_sf_group v;

	if (k8s_store_lookup_group(st, name, &g) == 1 && (uint32_t)g->gid == gid)
		return 1;
	return k8s_sfv_group_by_name(&st->priv->view, name, &v) == 1 && v.gid == gid;
}

/* One table of the snapshot: entries, first per name and per id. */
void k8s_store_snap_tab_free(struct nss_snap_tab *t)
{
	size_t i;

	for (i = 0; i < t->n; i++)
		free(t->ent[i].name);
	free(t->ent);
	free(t->by_name.slot);
	free(t->by_id.slot);
	memset(t, 0, sizeof(*t));
}

static int snap_find(const struct nss_snap_tab *t, const char *name, uint32_t id)
{
	const struct imap *m = name ? &t->by_name : &t->by_id;
	uint32_t key = name ? k8s_store_name_key(name) : k8s_store_mix_id(id);
	size_t i;

	if (m->slot == NULL)
		return -1;
	for (i = key & m->mask; m->slot[i] != 0; i = (i + 1) & m->mask) {
		const struct nss_snap_ent *e = &t->ent[m->slot[i] - 1];

		if (name ? strcmp(e->name, name) == 0 : e->id == id)
			return (int)(m->slot[i] - 1);
	}
	return -1;
}

static int snap_index(struct nss_snap_tab *t)
{
	size_t size = 64, i, k;

	while (size < 2 * t->n + 2)
		size *= 2;
	t->by_name.slot = calloc(size, sizeof(uint32_t));
	t->by_id.slot = calloc(size, sizeof(uint32_t));
	if (t->by_name.slot == NULL || t->by_id.slot == NULL || t->n >= UINT32_MAX)
		return -1;
	t->by_name.mask = t->by_id.mask = size - 1;
	for (i = 0; i < t->n; i++) {
		const struct nss_snap_ent *e = &t->ent[i];

		if (snap_find(t, e->name, 0) < 0) { /* the first one wins, as a point lookup */
			for (k = k8s_store_name_key(e->name) & t->by_name.mask; t->by_name.slot[k] != 0;
			     k = (k + 1) & t->by_name.mask)
				;
			t->by_name.slot[k] = (uint32_t)i + 1;
		}
		if (snap_find(t, NULL, e->id) < 0) {
			for (k = k8s_store_mix_id(e->id) & t->by_id.mask; t->by_id.slot[k] != 0;
			     k = (k + 1) & t->by_id.mask)
				;
			t->by_id.slot[k] = (uint32_t)i + 1;
		}
	}
	return 0;
}

static int snap_add(struct nss_snap_tab *t, const char *name, uint32_t id)
{
	if (t->n == t->cap) {
		size_t cap = t->cap ? 2 * t->cap : 256;
		struct nss_snap_ent *ne = realloc(t->ent, cap * sizeof(*ne));

		if (ne == NULL)
			return -1;
		t->ent = ne;
		t->cap = cap;
	}
	t->ent[t->n].name = strdup(name);
	if (t->ent[t->n].name == NULL)
		return -1;
	t->ent[t->n++].id = id;
	return 0;
}

/* The NSS services configured for db ("passwd", "group") are all ones
 * whose enumeration is everything their point lookups can answer: files
 * (/etc/passwd, /etc/group), systemd (userdb: drop-ins, dynamic users,
 * the services it enumerates; it also makes up root and nobody, reserved
 * anyway) and k8s (this store).  No action items ([NOTFOUND=return]):
 * they change which source answers. */
static int nss_enumerable(const char *db)
{
	FILE *f = fopen("/etc/nsswitch.conf", "re");
	char line[1024];
	size_t dl = strlen(db);
	int found = 0, ok = 0;

	if (f == NULL)
		return 0;
	while (!found && fgets(line, sizeof(line), f) != NULL) {
		char *s = line, *tok, *save = NULL;

		while (*s == ' ' || *s == '\t')
			s++;
		if (strncmp(s, db, dl) != 0)
			continue;
		s += dl;
		while (*s == ' ' || *s == '\t')
			s++;
		if (*s != ':')
			continue;
		found = 1;
		ok = strchr(line, '\n') != NULL; /* a line longer than the buffer: no */
		s++;
		if (strchr(s, '#') != NULL)
			*strchr(s, '#') = '\0';
		for (tok = strtok_r(s, " \t\n", &save); ok && tok != NULL; tok = strtok_r(NULL, " \t\n", &save))
			ok = strcmp(tok, "files") == 0 || strcmp(tok, "systemd") == 0 || strcmp(tok, "k8s") == 0;
	}
	fclose(f);
	return found && ok;
}

int k8s_store_nss_snapshot(struct k8s_store *st)
{
	struct k8s_store_priv *p;
	struct passwd *pw;
	struct group *gr;
	int rc = 0;

	if (st == NULL)
		return -1;
	p = st->priv;
	k8s_store_snap_tab_free(&p->pw);
	k8s_store_snap_tab_free(&p->gr);
	p->nss_snap = 0;
	if (!nss_enumerable("passwd") || !nss_enumerable("group"))
		return 0;
	errno = 0;
	setpwent();
	while (rc == 0 && (pw = getpwent()) != NULL)
		rc = snap_add(&p->pw, pw->pw_name, pw->pw_uid);
	if (rc == 0 && errno != 0 && errno != ENOENT)
		rc = -1;
	endpwent();
	errno = 0;
	setgrent();
	while (rc == 0 && (gr = getgrent()) != NULL)
		rc = snap_add(&p->gr, gr->gr_name, gr->gr_gid);
	if (rc == 0 && errno != 0 && errno != ENOENT)
		rc = -1;
	endgrent();
	/* made up by nss-systemd when no other source has them */
	if (rc == 0)
		rc = snap_add(&p->pw, "root", 0) | snap_add(&p->pw, "nobody", 65534) |
		     snap_add(&p->gr, "root", 0) | snap_add(&p->gr, "nogroup", 65534) |
		     snap_add(&p->gr, "nobody", 65534);
	if (rc == 0)
		rc = snap_index(&p->pw) | snap_index(&p->gr);
	if (rc != 0) {
		k8s_store_snap_tab_free(&p->pw);
		k8s_store_snap_tab_free(&p->gr);
		return 0; /* point lookups, as without a snapshot */
	}
	p->nss_snap = 1;
	return 1;
}

/* 1 when another NSS source has this user/group (by name or by id), 0 when
 * not, -errno when NSS cannot tell. */
int k8s_store_foreign(struct k8s_store *st, int group, const char *name, uint32_t id)
{
	struct nss_hit hit;
	int rc = 0;

	if (st->priv->nss_snap) {
		const struct nss_snap_tab *t = group ? &st->priv->gr : &st->priv->pw;
		int i = snap_find(t, name, id);

		memset(&hit, 0, sizeof(hit));
		if (i >= 0) {
			hit.found = 1;
			hit.id = t->ent[i].id;
			snprintf(hit.name, sizeof(hit.name), "%s", t->ent[i].name);
		}
	} else {
		rc = k8s_store_nss_lookup(group, name, id, &hit);
	}
	if (rc != 0)
		return -rc;
	if (!hit.found)
		return 0;
	return group ? !k8s_store_own_group(st, hit.name, hit.id) : !own_user(st, hit.name, hit.id);
}
