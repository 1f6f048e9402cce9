-- SPDX-License-Identifier: MPL-2.0
-- Seeding for `tools/bench api`: cases in the shape intake and the case
-- actions leave them: per-year references with their case_counters row,
-- one or more contacts with Danish text on each case, statuses and
-- resolutions that suit the case's age, forwards with the department's
-- number or address copied, and the audit rows of creation, forwarding
-- and resolution. Defines pg_temp.bench_seed_chunk(lo, hi, total), which
-- tools/bench then calls in the same session for cases lo..hi of total,
-- 100,000 at a time, each CALL its own transaction; set-based (INSERT
-- ... SELECT) throughout. Needs the demo directory (kontaktctl seed-demo)
-- and the bench-agent-NN users; expects no cases yet.
--
-- Cases arrive on weekdays 07:30-17:30 Copenhagen time from 2022-01-03 to
-- yesterday, evenly, so ids and references grow with created_at as they
-- do in production. The mix of departments roughly follows the call
-- volumes in data/seed-figures.json (Jobcenter, Borgerservice and the
-- economic team first); the channels are mostly phone, then e-mail and
-- Digital Post. "byggesag" ends up in about 2.7 % of the cases, the rare
-- word "rottespærre" (in written contacts only) in about 0.07 %.

\set ON_ERROR_STOP 1
SET client_min_messages = warning;
-- The estimates of these big INSERT ... SELECTs would have them JIT-
-- compiled, which costs seconds and saves nothing here.
SET jit = off;

-- department, weight, category, subjects, sentences. The weights are
-- relative; the sentences are what citizens (or agents noting a call)
-- write.
CREATE TEMP TABLE bench_topic (
	id serial PRIMARY KEY,
	department text,
	weight integer NOT NULL,
	category text NOT NULL,
	subjects text[] NOT NULL,
	sentences text[] NOT NULL
);

INSERT INTO bench_topic (department, weight, category, subjects, sentences)
VALUES
('Jobcenter', 16, 'Jobcenter',
 '{"Spørgsmål om jobsamtale","Aflysning af samtale i jobcentret","Kontanthjælp - udbetaling","Virksomhedspraktik","Joblog og jobsøgning","Ledighedsydelse"}',
 '{"Jeg skulle have haft en samtale med min jobkonsulent i næste uge, men jeg er syg.","Min kontanthjælp er ikke kommet ind på kontoen i denne måned.","Jeg vil gerne høre om mulighederne for virksomhedspraktik.","Jeg kan ikke logge ind på Jobnet for at opdatere min joblog.","Jeg har fået et brev om et møde, men jeg kan ikke se, hvad det drejer sig om.","Hvornår bliver min ledighedsydelse udbetalt?"}'),
('Sygedagpenge', 5, 'Sygedagpenge',
 '{"Sygedagpenge - manglende udbetaling","Opfølgningssamtale om sygemelding","Lægeerklæring til sygedagpengesag"}',
 '{"Jeg er sygemeldt og har ikke fået mine sygedagpenge.","Min arbejdsgiver siger, at refusionen af sygedagpenge er stoppet.","Jeg har sendt lægeerklæringen, men har ikke hørt noget.","Hvornår bliver min sygedagpengesag revurderet?"}'),
('Borgerservice', 5, 'Borgerservice',
 '{"Spørgsmål til Borgerservice","Tidsbestilling i Borgerservice","Sundhedskort bortkommet","Boligstøtte - ansøgning","Spørgsmål om skat"}',
 '{"Jeg har mistet mit sundhedskort og skal bruge et nyt.","Jeg vil gerne søge boligstøtte, men ved ikke, hvilke papirer jeg skal bruge.","Kan I hjælpe mig med at bestille en tid?","Min boligstøtte er blevet sat ned, uden at jeg forstår hvorfor.","Jeg har et spørgsmål til min forskudsopgørelse fra Skat."}'),
('Pas og kørekort', 4, 'Pas og kørekort',
 '{"Fornyelse af pas","Kørekort - fornyelse","Pas til barn","Tidsbestilling til pas og kørekort","Bortkommet kørekort"}',
 '{"Mit pas udløber om to måneder, og jeg skal rejse til sommer.","Jeg skal forny mit kørekort og vil gerne vide, hvad det koster.","Mit barn skal have sit første pas.","Jeg har mistet mit kørekort i weekenden.","Hvor lang er ventetiden på et nyt pas lige nu?"}'),
('NemID og MitID', 3, 'MitID',
 '{"MitID virker ikke","Hjælp til MitID","Spærret MitID"}',
 '{"Jeg kan ikke logge ind med MitID-appen, efter jeg har fået ny telefon.","Min mor på 84 har brug for hjælp til at oprette MitID.","Mit MitID er blevet spærret efter forkert kode."}'),
('Folkeregister', 2, 'Folkeregister',
 '{"Flytning - adresseændring","Anmeldelse af flytning","Folkeregisteradresse"}',
 '{"Jeg er flyttet, men kan ikke anmelde flytningen på borger.dk.","Der står en forkert person tilmeldt på min adresse.","Hvornår skal flytningen senest være anmeldt?"}'),
('Pladsanvisning', 3, 'Pladsanvisning',
 '{"Ventetid på vuggestueplads","Plads i daginstitution","Skoleindskrivning","Opsigelse af børnehaveplads","Skoleskift","SFO-plads"}',
 '{"Vi har skrevet vores søn op til vuggestue, men har ikke hørt noget.","Vi ønsker at flytte vores datter til en anden daginstitution.","Hvornår er der skoleindskrivning til næste skoleår?","Vi vil gerne opsige pladsen i børnehaven pr. den første i næste måned.","Vores søn skal skifte skole efter sommerferien.","Kan vi få søskenderabat på pladsen i SFO?"}'),
('Vielser', 1, 'Vielser',
 '{"Vielse på rådhuset","Prøvelsesattest"}',
 '{"Vi vil gerne giftes på rådhuset til sommer.","Hvor lang tid tager det at få en prøvelsesattest?"}'),
('Byggesager', 3, 'Byggesag',
 '{"Min byggesag","Byggetilladelse til carport","Ansøgning om byggetilladelse","Tilbygning - status på byggesag","Nabohøring i byggesag","Ibrugtagningstilladelse"}',
 '{"Jeg søgte byggetilladelse til en carport for seks uger siden og har ikke hørt noget.","Hvad er status på min byggesag?","Min nabo er gået i gang med en tilbygning, og jeg har ikke fået nogen nabohøring.","Skal jeg have byggetilladelse til et drivhus på 12 kvadratmeter?","Vi mangler en ibrugtagningstilladelse, før vi kan sælge huset.","Jeg har fået afslag på min ansøgning og vil gerne klage over afgørelsen."}'),
('Affald', 5, 'Affald',
 '{"Storskrald","Manglende tømning af skraldespand","Afhentning af storskrald","Ny affaldsbeholder","Haveaffald","Sortering af affald"}',
 '{"Min skraldespand er ikke blevet tømt i denne uge.","Jeg vil gerne bestille afhentning af storskrald.","Vi mangler en beholder til papir og pap.","Skraldebilen har kørt min beholder i stykker.","Hvornår bliver haveaffaldet hentet igen?","Må man stille elektronikaffald ud sammen med storskrald?"}'),
('Skadedyr', 2, 'Skadedyr',
 '{"Rotter i haven","Anmeldelse af rotter","Rotter i kælderen"}',
 '{"Jeg har set rotter ved kompostbunken.","Der er rotter i kælderen i vores opgang.","Rottefængeren har været her, men rotterne er der stadig."}'),
('Ejendomsskat', 3, 'Ejendomsskat',
 '{"Ejendomsskat - opkrævning","Spørgsmål om grundskyld","Betaling af ejendomsskat","Lån til ejendomsskat"}',
 '{"Jeg har modtaget en opkrævning på ejendomsskat, som jeg mener er forkert.","Kan jeg dele betalingen af ejendomsskatten op i rater?","Jeg vil gerne søge om lån til betaling af ejendomsskat.","Hvorfor er min grundskyld steget så meget?"}'),
('Opkrævning', 3, 'Opkrævning',
 '{"Rykker for betaling","Restance","Betalingsaftale"}',
 '{"Jeg har fået en rykker, men jeg har betalt.","Jeg vil gerne lave en betalingsaftale om min restance.","Kan I sende en ny opkrævning? Jeg har smidt den første væk."}'),
('Økonomisk team (pension og ydelser)', 13, 'Pension og ydelser',
 '{"Personligt tillæg","Varmetillæg","Helbredstillæg til tandlæge","Førtidspension","Spørgsmål om pension"}',
 '{"Jeg vil gerne søge personligt tillæg til en ny vaskemaskine.","Jeg har fået en regning fra tandlægen og vil søge helbredstillæg.","Hvornår bliver min ansøgning om førtidspension behandlet?","Kan jeg få varmetillæg, når jeg har fjernvarme?","Min folkepension er blevet mindre, og jeg forstår ikke hvorfor."}'),
('Visitationen', 3, 'Ældrepleje',
 '{"Hjemmehjælp","Ansøgning om hjemmehjælp","Ældrepleje - plejebolig","Madordning"}',
 '{"Min far kan ikke længere klare rengøringen selv og har brug for hjemmehjælp.","Vi vil gerne søge om en plejebolig til min mor.","Hjemmehjælperen kom ikke i dag.","Hvordan bestiller man mad fra den kommunale madordning?"}'),
('Hjælpemidler', 2, 'Hjælpemidler',
 '{"Rollator","Kørestol - reparation","Hjælpemidler til badeværelset"}',
 '{"Min rollator er gået i stykker.","Jeg har brug for en toiletforhøjer og en badebænk.","Hvornår kommer håndværkerne og sætter gelænderet op?"}'),
('Hjemmeplejen', 2, 'Ældrepleje',
 '{"Hjemmeplejen kom ikke","Besøg fra hjemmeplejen","Medicin fra hjemmeplejen"}',
 '{"Hjemmeplejen er ikke kommet med min medicin i dag.","Kan hjemmeplejen komme om morgenen i stedet for om aftenen?"}'),
('Hovedpostkassen', 3, 'Generelt',
 '{"Aktindsigt","Klage over sagsbehandling","Henvendelse til kommunen","Kopi af afgørelse"}',
 '{"Jeg vil gerne anmode om aktindsigt i min sag.","Jeg vil klage over sagsbehandlingstiden.","Jeg har ikke modtaget svar på min henvendelse fra sidste måned.","Kan I sende mig en kopi af afgørelsen?"}'),
('Børne- og familieafdelingen', 4, 'Børn og familie',
 '{"Underretning","Aflastning","Samvær","Skole og trivsel"}',
 '{"Jeg er bekymret for et barn i min opgang.","Vi vil gerne søge om aflastning til vores søn.","Hvornår bliver der holdt møde om min datters sag?","Vores søn trives ikke i skolen, og vi har brug for hjælp."}'),
('Social og psykiatri', 2, 'Social',
 '{"Bostøtte","Støttekontaktperson"}',
 '{"Min bror har brug for bostøtte.","Jeg vil gerne have en støttekontaktperson."}'),
('Kultur og fritid', 2, 'Kultur og fritid',
 '{"Leje af idrætshal","Tilskud til forening","Biblioteket"}',
 '{"Vores forening vil gerne leje hallen om lørdagen.","Hvornår er fristen for at søge om tilskud til foreningen?","Jeg har fået en regning fra biblioteket for en bog, jeg har afleveret."}'),
('Miljø', 1, 'Miljø',
 '{"Støj fra byggeplads","Jordforurening","Brændeovn hos naboen"}',
 '{"Der bliver arbejdet på byggepladsen om natten.","Vi har fået at vide, at vores grund kan være forurenet.","Røgen fra naboens brændeovn kommer ind i vores stue."}'),
-- Not in the directory: cases that stay without a department.
(NULL, 3, 'Parkering',
 '{"Parkeringstilladelse","Beboerparkering","Parkeringsafgift"}',
 '{"Jeg har fået en parkeringsafgift, selvom jeg havde en parkeringstilladelse.","Hvordan søger jeg om beboerparkering?","Der holder en bil parkeret på fortovet hver dag."}');

-- 1,000 slots, each naming a topic in proportion to its weight, so a
-- random slot picks a topic by weight with one hash join.
CREATE TEMP TABLE bench_topic_slot AS
SELECT s.slot, t.id AS topic_id, t.department, t.category, t.subjects,
	t.sentences, d.id AS department_id, d.queue_number,
	d.hunt_group_number, d.ivr_choice, d.email AS department_email
FROM (SELECT id, sum(weight) OVER (ORDER BY id) - weight AS lo,
		sum(weight) OVER (ORDER BY id) AS hi,
		sum(weight) OVER () AS total
	FROM bench_topic) w
JOIN bench_topic t ON t.id = w.id
LEFT JOIN departments d ON d.name = t.department
JOIN generate_series(0, 999) s(slot)
	ON s.slot >= floor(w.lo * 1000.0 / w.total)
	AND s.slot < floor(w.hi * 1000.0 / w.total);

CREATE TEMP TABLE bench_words AS SELECT
 '{Anne,Kirsten,Mette,Hanne,Susanne,Lene,Maria,Marianne,Lone,Camilla,Pia,Louise,Charlotte,Tina,Gitte,Bente,Jette,Karen,Ida,Emma,Sofie,Freja,Peter,Jens,Lars,Michael,Henrik,Søren,Thomas,Jan,Niels,Morten,Jesper,Anders,Christian,Rasmus,Martin,Mads,Frederik,Mikkel,Ole,Poul,Hans,Jørgen,Bo,Kim,Ahmed,Fatima,Ali,Aisha,Mohammad,Zeynep}'::text[] AS first,
 '{Nielsen,Jensen,Hansen,Pedersen,Andersen,Christensen,Larsen,Sørensen,Rasmussen,Jørgensen,Petersen,Madsen,Kristensen,Olsen,Thomsen,Christiansen,Poulsen,Johansen,Møller,Mortensen,Knudsen,Jakobsen,Mikkelsen,Olesen,Frederiksen,Laursen,Henriksen,Lund,Holm,Schmidt,Eriksen,Clausen,Simonsen,Svendsen,Andreasen,Iversen,Østergaard,Jeppesen,Vestergaard,Nissen,Kjær,Mogensen,Skov,Bach,Yilmaz,Hussein}'::text[] AS last,
 '{gmail.com,hotmail.com,outlook.dk,mail.dk,live.dk,yahoo.dk,jubii.dk}'::text[] AS domains,
 '{"Jeg har prøvet at ringe flere gange uden at komme igennem.","Jeg kan træffes på telefon efter klokken 15.","Det haster, da fristen er på fredag.","Jeg har vedhæftet et billede af brevet.","Jeg har også skrevet til jer via borger.dk.","Min søn hjælper mig med at skrive denne besked."}'::text[] AS extras,
 '{"Vi har sendt din henvendelse videre til den rette afdeling, som kontakter dig inden for fem arbejdsdage.","Du kan læse mere om det på kommunens hjemmeside.","Din sag er nu afsluttet.","Du er velkommen til at kontakte os igen, hvis du har flere spørgsmål.","Vi har brug for flere oplysninger, før vi kan behandle din sag."}'::text[] AS replies,
 (SELECT array_agg(id ORDER BY id) FROM users
	WHERE login LIKE 'bench-agent-%') AS agents;

-- Weekdays from 2022-01-03 (a Monday) to yesterday, 10 hours each.
CREATE TEMP TABLE bench_span AS
SELECT count(*)::bigint * 36000 AS seconds
FROM generate_series(date '2022-01-03', current_date - 1, interval '1 day') d
WHERE extract(isodow FROM d) < 6;

-- One chunk's cases, with what their contacts, forwards and audit rows
-- are made of.
CREATE TEMP TABLE bench_plan (
	g bigint PRIMARY KEY,
	case_id bigint,
	reference text,
	status text,
	resolution text,
	category text,
	department_id bigint,
	assignee_id bigint,
	citizen_name text,
	citizen_phone text,
	citizen_email text,
	citizen_cpr text,
	subject text,
	created_at timestamptz,
	first_response_at timestamptz,
	resolved_at timestamptz,
	last_contact_at timestamptz,
	updated_at timestamptz,
	version integer,
	channel text,
	body text,
	extra text,
	department_email text,
	queue text,
	forward_method text,
	forward_target text,
	replied boolean,
	followup boolean,
	noted boolean
);

CREATE PROCEDURE pg_temp.bench_seed_chunk(lo bigint, hi bigint, total bigint)
LANGUAGE plpgsql AS $$
BEGIN
	PERFORM setseed(lo::double precision / (total + 1));
	-- The seed writes history: cases_touch would give every case the
	-- seeding time as updated_at when the contacts' lexemes reach it
	-- (sql/006). Off for this transaction only.
	ALTER TABLE cases DISABLE TRIGGER cases_touch;
	TRUNCATE bench_plan;
	WITH r AS MATERIALIZED (
		SELECT g, floor(random() * 1000)::integer AS slot,
			random() AS r_chan, random() AS r_time, random() AS r_stat,
			random() AS r_res, random() AS r1, random() AS r2,
			random() AS r3, random() AS r4, random() AS r5,
			random() AS r6, random() AS r7, random() AS r8,
			random() AS r9
		FROM generate_series(lo, hi) g
	), t AS MATERIALIZED (
		-- The business second of arrival, strictly growing with g.
		SELECT r.*, s.department_id, s.queue_number, s.hunt_group_number,
			s.ivr_choice, s.department_email, s.category, s.subjects,
			s.sentences,
			((g - 1 + r_time) * (SELECT seconds FROM bench_span) / total)::bigint
				AS off,
			CASE WHEN r_chan < 0.62 THEN 'phone'
				WHEN r_chan < 0.84 THEN 'email'
				WHEN r_chan < 0.95 THEN 'digital_post'
				WHEN r_chan < 0.985 THEN 'web'
				ELSE 'walk_in' END AS channel,
			w.first[1 + floor(r1 * cardinality(w.first))::integer] AS fname,
			w.last[1 + floor(r2 * cardinality(w.last))::integer] AS lname
		FROM r JOIN bench_topic_slot s USING (slot) CROSS JOIN bench_words w
	), c AS MATERIALIZED (
		SELECT t.*,
			((date '2022-01-03' + (off / 36000 / 5 * 7 + off / 36000 % 5)::integer
				+ time '07:30' + (off % 36000) * interval '1 second')
				AT TIME ZONE 'Europe/Copenhagen') AS created
		FROM t
	), a AS MATERIALIZED (
		SELECT c.*,
			extract(year FROM created AT TIME ZONE 'Europe/Copenhagen')::integer
				AS year,
			extract(epoch FROM now() - created) / 86400 AS age,
			CASE WHEN c.channel IN ('phone', 'walk_in') OR r3 < 0.3
				THEN interval '1 minute' * (1 + r4 * 20)
				ELSE interval '1 hour' * (1 + r4 * 48) END AS response
		FROM c
	), s AS MATERIALIZED (
		SELECT a.*,
			CASE
			WHEN age < 2 THEN CASE WHEN r_stat < 0.40 THEN 'new'
				WHEN r_stat < 0.65 THEN 'open'
				WHEN r_stat < 0.80 THEN 'forwarded' ELSE 'resolved' END
			WHEN age < 30 THEN CASE WHEN r_stat < 0.03 THEN 'new'
				WHEN r_stat < 0.15 THEN 'open'
				WHEN r_stat < 0.45 THEN 'forwarded'
				WHEN r_stat < 0.95 THEN 'resolved' ELSE 'closed' END
			ELSE CASE WHEN r_stat < 0.40 THEN 'forwarded'
				WHEN r_stat < 0.85 THEN 'resolved' ELSE 'closed' END
			END AS status0
		FROM a
	), numbered AS MATERIALIZED (
		SELECT s.*, coalesce(cc.last, 0)
			+ row_number() OVER (PARTITION BY year ORDER BY g) AS num
		FROM s LEFT JOIN case_counters cc USING (year)
	)
	INSERT INTO bench_plan (g, reference, status, resolution, category,
		department_id, assignee_id, citizen_name, citizen_phone,
		citizen_email, citizen_cpr, subject, created_at,
		first_response_at, resolved_at, last_contact_at, updated_at,
		version, channel, body, extra, department_email, queue,
		forward_method, forward_target, replied, followup, noted)
	SELECT g,
		year::text || '-' || CASE WHEN num < 1000000
			THEN lpad(num::text, 6, '0') ELSE num::text END,
		st.status,
		CASE st.status WHEN 'forwarded' THEN 'forwarded'
		WHEN 'resolved' THEN CASE WHEN r_res < 0.55 THEN 'resolved_first_contact'
			WHEN r_res < 0.80 THEN 'answered_later'
			WHEN r_res < 0.92 THEN 'callback'
			WHEN r_res < 0.97 THEN 'duplicate' ELSE 'spam' END
		WHEN 'closed' THEN CASE WHEN r_res < 0.5 THEN 'answered_later'
			WHEN r_res < 0.7 THEN 'duplicate' END
		END,
		CASE WHEN st.status IN ('resolved', 'closed') AND r5 < 0.7
			THEN category END,
		department_id,
		CASE WHEN st.status <> 'new' THEN w.agents[1 + floor(r6
			* cardinality(w.agents))::integer] END,
		CASE WHEN r7 < 0.9 THEN fname || ' ' || lname END,
		CASE WHEN channel IN ('phone', 'walk_in') OR r8 < 0.2
			THEN '+45' || (20000000 + floor(r1 * 79999999))::bigint END,
		CASE WHEN channel IN ('email', 'web') THEN
			replace(replace(replace(lower(fname || '.' || lname
				|| (floor(r3 * 100))::integer), 'æ', 'ae'), 'ø', 'oe'),
				'å', 'aa')
			|| '@' || w.domains[1 + floor(r4 * cardinality(w.domains))::integer]
			END,
		CASE WHEN channel = 'digital_post' OR r8 < 0.1 THEN
			to_char(date '1930-01-01' + floor(r2 * 27000)::integer,
				'DDMMYY') || lpad(floor(r5 * 10000)::text, 4, '0') END,
		subjects[1 + floor(r1 * cardinality(subjects))::integer],
		created,
		CASE WHEN st.status <> 'new' THEN created + response END,
		CASE WHEN st.status IN ('resolved', 'closed')
			THEN created + response * (1 + r7) END,
		created, created, 1, channel,
		sentences[1 + floor(r2 * cardinality(sentences))::integer]
			|| CASE WHEN r3 < 0.5 THEN ' ' || sentences[1 + floor(r4
				* cardinality(sentences))::integer] ELSE '' END,
		-- The rare word: a few rat cases ask for a rat barrier.
		CASE WHEN category = 'Skadedyr' AND r9 < 0.08
			THEN 'Kan kommunen sætte en rottespærre på kloakken?'
			WHEN r5 < 0.4 THEN w.extras[1 + floor(r6
			* cardinality(w.extras))::integer] END,
		department_email, coalesce(queue_number, hunt_group_number),
		CASE WHEN queue_number IS NOT NULL THEN 'queue'
			WHEN hunt_group_number IS NOT NULL THEN 'hunt_group'
			WHEN ivr_choice IS NOT NULL THEN 'ivr' ELSE 'email' END,
		coalesce(queue_number, hunt_group_number, ivr_choice,
			department_email),
		st.status IN ('resolved', 'closed') AND channel IN ('email',
			'digital_post', 'web') AND r8 < 0.8,
		r7 < 0.1 AND channel IN ('phone', 'email'),
		st.status <> 'new' AND r6 < 0.3
	FROM numbered CROSS JOIN bench_words w
	CROSS JOIN LATERAL (SELECT CASE WHEN status0 = 'forwarded'
		AND department_id IS NULL THEN 'resolved' ELSE status0 END
		AS status) st;

	-- The newest contact and the changes made decide the rest.
	UPDATE bench_plan SET
		last_contact_at = greatest(created_at,
			CASE WHEN replied THEN resolved_at END,
			CASE WHEN followup THEN created_at + interval '2 days' END,
			CASE WHEN noted THEN first_response_at END),
		updated_at = greatest(created_at, first_response_at, resolved_at),
		version = 1 + (assignee_id IS NOT NULL)::integer
			+ (resolution IS NOT NULL)::integer
			+ (category IS NOT NULL)::integer;

	WITH k AS (
		INSERT INTO cases (reference, status, resolution, category,
			department_id, assignee_id, citizen_name, citizen_phone,
			citizen_email, citizen_cpr, subject, created_at,
			first_response_at, resolved_at, last_contact_at,
			updated_at, version)
		SELECT reference, status, resolution, category, department_id,
			assignee_id, citizen_name, citizen_phone, citizen_email,
			citizen_cpr, subject, created_at, first_response_at,
			resolved_at, last_contact_at, updated_at, version
		FROM bench_plan ORDER BY g
		RETURNING id, reference
	)
	UPDATE bench_plan p SET case_id = k.id FROM k
	WHERE p.reference = k.reference;
	ANALYZE bench_plan;

	INSERT INTO case_counters (year, last)
	SELECT substr(reference, 1, 4)::integer,
		max(substr(reference, 6)::bigint)
	FROM bench_plan GROUP BY 1
	ON CONFLICT (year) DO UPDATE
		SET last = greatest(case_counters.last, EXCLUDED.last);

	-- All contacts of the chunk in one statement.
	INSERT INTO contacts (case_id, channel, direction, external_id,
		occurred_at, from_addr, to_addr, subject, body, created_by,
		created_at)
	SELECT p.case_id, x.channel, x.direction, x.external_id, x.at, x.from_addr,
		x.to_addr, x.subject, x.body, x.created_by, x.at
	FROM bench_plan p
	CROSS JOIN LATERAL (
		-- What came in.
		SELECT p.channel, 'in' AS direction,
			CASE p.channel
			WHEN 'phone' THEN 'call-' || p.g
			WHEN 'email' THEN '<' || md5('m' || p.g) || '@mail.example>'
			WHEN 'digital_post' THEN md5('dp' || p.g)::uuid::text
			WHEN 'web' THEN 'web-' || p.g END AS external_id,
			p.created_at AS at,
			CASE WHEN p.channel <> 'digital_post' THEN coalesce(
				p.citizen_email, p.citizen_phone) END AS from_addr,
			CASE p.channel WHEN 'phone' THEN p.queue
			WHEN 'email' THEN 'post@kommune.example' END AS to_addr,
			CASE WHEN p.channel = 'phone' THEN '' ELSE p.subject END
				AS subject,
			CASE p.channel
			WHEN 'phone' THEN 'Borger ringer: ' || p.body
			WHEN 'walk_in' THEN 'Borger henvender sig i Borgerservice: '
				|| p.body
			ELSE 'Hej' || E'\n\n' || p.body
				|| coalesce(' ' || p.extra, '') || E'\n\n'
				|| 'Venlig hilsen' || E'\n'
				|| coalesce(p.citizen_name, '') END AS body,
			NULL::bigint AS created_by
		UNION ALL
		-- The answer to a written contact.
		SELECT CASE p.channel WHEN 'digital_post' THEN 'outbound_dp'
			ELSE 'outbound_email' END, 'out',
			CASE WHEN p.channel <> 'digital_post' THEN '<reply.'
				|| p.g || '@kommune.example>' END,
			p.resolved_at, 'post@kommune.example', p.citizen_email,
			'Sv: ' || p.subject,
			'Tak for din henvendelse om ' || lower(p.subject) || '. '
				|| w.replies[1 + (p.g % cardinality(w.replies))::integer]
				|| E'\n\n' || 'Med venlig hilsen' || E'\n'
				|| 'Kontaktcentret, Rødovre Kommune',
			p.assignee_id
		FROM bench_words w WHERE p.replied
		UNION ALL
		-- The citizen asks again.
		SELECT p.channel, 'in',
			CASE p.channel WHEN 'phone' THEN 'call-' || p.g || '-2'
			ELSE '<' || md5('f' || p.g) || '@mail.example>' END,
			p.created_at + interval '2 days',
			coalesce(p.citizen_email, p.citizen_phone),
			CASE p.channel WHEN 'phone' THEN p.queue
			ELSE 'post@kommune.example' END,
			CASE WHEN p.channel = 'phone' THEN '' ELSE 'Vs: ' || p.subject END,
			'Jeg rykker for svar på min henvendelse om ' || lower(p.subject)
				|| '.',
			NULL
		WHERE p.followup
		UNION ALL
		-- The agent's note.
		SELECT 'note', 'internal', NULL, p.first_response_at, NULL, NULL, '',
			CASE p.status WHEN 'forwarded' THEN 'Viderestillet til '
				|| (SELECT name FROM departments
					WHERE id = p.department_id)
				|| '. Borgeren er informeret om forventet svartid.'
			ELSE 'Borgeren er vejledt. ' || p.body END,
			p.assignee_id
		WHERE p.noted
	) x;

	INSERT INTO forwards (case_id, to_department_id, method, target, reason,
		by_user_id, at)
	SELECT p.case_id, p.department_id, p.forward_method, p.forward_target,
		'Hører under ' || (SELECT name FROM departments
			WHERE id = p.department_id),
		p.assignee_id, p.first_response_at
	FROM bench_plan p
	WHERE p.status = 'forwarded';

	INSERT INTO audit_log (at, actor_user_id, action, case_id)
	SELECT x.at, x.actor, x.action, p.case_id
	FROM bench_plan p
	CROSS JOIN LATERAL (VALUES
		(p.created_at, NULL::bigint, 'create'),
		(p.first_response_at, p.assignee_id, CASE p.status
			WHEN 'forwarded' THEN 'forward'
			WHEN 'resolved' THEN 'resolve' END)) x (at, actor, action)
	WHERE x.action IS NOT NULL;
	ALTER TABLE cases ENABLE TRIGGER cases_touch;
END;
$$;
