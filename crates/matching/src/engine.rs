//! Scoring: text relevance from the index, combined with structure.
//!
//! For a demand, outcomes are scored by BM25 of the demand's text (title
//! and keywords weighted double), refined by pseudo-relevance feedback (the
//! keywords of the best outcomes are added to the query and the two scores
//! averaged) and by the single characters the found outcomes share with the
//! demand, less a penalty when an outcome rules out the demand's own words
//! (不适用于…), then adjusted by structure: same industry division or section,
//! TRL fit (at or just above the demand's minimum is best; below it is
//! penalised), asking price within reach of the budget, and region. Experts
//! are scored by text, region and availability, plus their link to the best
//! outcomes: an expert of the institution holding a strongly matching
//! outcome, working on that outcome's topic, is likely the person behind it.
//! Scores of each kind are normalised to the best of that kind, so outcomes
//! and experts rank together.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use kechuang_types::{Body, Date, Recommendation, Record, RecordId, RecordKind, Region, SupplyKind, Tier};

use crate::catalog::{DemandProfile, SupplyProfile};
use crate::index::{KindIndex, View};
use crate::{Analyzer, Result};

/// How many of the best candidates by words the shared characters reorder.
const CHARACTER_RERANK: usize = 50;

/// Weights of the scoring signals.
#[derive(Debug, Clone, PartialEq)]
pub struct Params {
    /// Same industry division (`C38`).
    pub same_division: f64,
    /// Same industry section (`C`).
    pub same_section: f64,
    /// TRL at or just above the demand's minimum.
    pub trl_fit: f64,
    /// Same city (full weight) or province (half).
    pub proximity: f64,
    /// Asking price within 1.5 times the budget.
    pub price_fit: f64,
    /// An expert's link to a strongly matching outcome of the same institution.
    pub expert_link: f64,
    /// Single characters shared with the demand, among the candidates its
    /// words found (plain-language paraphrases: 叶子黄 / 叶片黄化).
    pub characters: f64,
    /// Penalty for an outcome whose summary says it does not do what the
    /// demand asks (不适用于/不涉及 followed by the demand's words).
    pub excluded: f64,
    /// An outcome a society recommends (专业评估 推荐), added to its score.
    pub recommended: f64,
    /// How many of the best outcomes feed back keywords and expert links.
    pub feedback: usize,
    /// Candidates fetched from the index per query.
    pub fetch: usize,
    /// Documents of Chinese at large (jieba's word frequencies) that a
    /// candidate's strength blends into its index's term statistics: what
    /// keeps strength meaningful on a network's first few records.
    pub background_docs: f64,
}

impl Default for Params {
    fn default() -> Self {
        Self {
            same_division: 0.15,
            same_section: 0.05,
            trl_fit: 0.5,
            proximity: 0.3,
            price_fit: 0.2,
            expert_link: 1.0,
            excluded: 0.3,
            characters: 2.5,
            recommended: 0.05,
            feedback: 5,
            fetch: 200,
            background_docs: 100.0,
        }
    }
}

/// A scored supply for one demand.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    /// The outcome or expert.
    pub supply: RecordId,
    /// Which kind it is.
    pub kind: SupplyKind,
    /// Relevance relative to the best candidate of its kind (best = 1).
    pub score: f64,
    /// Absolute text relevance: the share of a perfect text match reached (0–1).
    pub strength: f64,
    /// How far it is from the demand.
    pub tier: Tier,
    /// Whether an expert was linked through a matching outcome of their institution.
    pub linked: bool,
}

/// What a search reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Catalogue {
    /// Open demands.
    Demands,
    /// Outcomes on offer.
    Outcomes,
    /// Experts on offer.
    Experts,
}

/// The index and profiles of every open demand and available supply.
#[derive(Debug)]
pub struct Engine {
    analyzer: Analyzer,
    outcomes: KindIndex,
    experts: KindIndex,
    demands_index: KindIndex,
    supplies: HashMap<RecordId, SupplyProfile>,
    /// The open demands indexed (their profiles are the caller's: the store holds them).
    demands: HashSet<RecordId>,
    /// The teams each expert serves in.
    teams: HashMap<RecordId, Vec<RecordId>>,
    /// Each 推荐 assessment of an outcome, and its subject.
    recommendations: HashMap<RecordId, RecordId>,
    /// How many 推荐 assessments each outcome has.
    recommended: HashMap<RecordId, u32>,
    params: Params,
}

/// The tier of `supply` relative to `demand`.
pub fn tier(demand: Region, supply: Region) -> Tier {
    if demand.same_city(supply) {
        Tier::City
    } else if demand.same_province(supply) {
        Tier::Province
    } else {
        Tier::National
    }
}

fn proximity(tier: Tier) -> f64 {
    match tier {
        Tier::City => 1.0,
        Tier::Province => 0.5,
        Tier::National => 0.0,
    }
}

/// Past this many times [`Params::background_docs`] an index's own
/// statistics carry strength alone (the background would weigh under 1%).
const BLEND_FADES: f64 = 99.0;

fn normalise<K: std::hash::Hash + Eq + Copy>(scores: &HashMap<K, f64>) -> HashMap<K, f64> {
    let max = scores.values().copied().fold(0.0_f64, f64::max);
    if max <= 0.0 {
        return scores.clone();
    }
    scores.iter().map(|(k, v)| (*k, v / max)).collect()
}

impl Engine {
    /// An engine with its index in memory (tests, `eval`).
    pub fn in_memory(params: Params) -> Result<Self> {
        Self::with(KindIndex::in_memory()?, KindIndex::in_memory()?, KindIndex::in_memory()?, params)
    }

    /// An engine with its index in `dir`; the profiles are rebuilt by the caller's upserts.
    pub fn open(dir: &Path, params: Params) -> Result<Self> {
        let engine = Self::with(
            KindIndex::open(&dir.join("outcomes"))?,
            KindIndex::open(&dir.join("experts"))?,
            KindIndex::open(&dir.join("demands"))?,
            params,
        )?;
        Ok(engine)
    }

    fn with(outcomes: KindIndex, experts: KindIndex, demands_index: KindIndex, params: Params) -> Result<Self> {
        Ok(Self {
            analyzer: Analyzer,
            outcomes,
            experts,
            demands_index,
            supplies: HashMap::new(),
            demands: HashSet::new(),
            teams: HashMap::new(),
            recommendations: HashMap::new(),
            recommended: HashMap::new(),
            params,
        })
    }

    /// Empties the index and the profiles (before a rebuild).
    pub fn clear(&mut self) -> Result<()> {
        for index in [&self.outcomes, &self.experts, &self.demands_index] {
            index.clear()?;
        }
        self.supplies.clear();
        self.demands.clear();
        self.teams.clear();
        self.recommendations.clear();
        self.recommended.clear();
        Ok(())
    }

    /// Takes in a new or changed record; `index` false only refreshes the
    /// profile (the on-disk index already holds the text).
    pub fn upsert(&mut self, record: &Record, index: bool) -> Result<()> {
        let id = record.meta.id;
        if let Body::Assessment(a) = &record.body {
            let recommends = a.verdict == Recommendation::Recommend && a.subject_kind == RecordKind::Outcome;
            if let Some(subject) = self.recommendations.remove(&id)
                && let Some(count) = self.recommended.get_mut(&subject)
            {
                *count -= 1;
                if *count == 0 {
                    self.recommended.remove(&subject);
                }
            }
            if recommends && !record.meta.deleted {
                self.recommendations.insert(id, a.subject);
                *self.recommended.entry(a.subject).or_default() += 1;
            }
            return Ok(());
        }
        self.leave_teams(id);
        if let Some((profile, parts)) = SupplyProfile::with_index_text(record) {
            for member in &profile.members {
                self.teams.entry(*member).or_default().push(id);
            }
            if index {
                let refs: Vec<(&str, u32)> = parts.iter().map(|(t, w)| (t.as_str(), *w)).collect();
                let target = if profile.kind == SupplyKind::Outcome { &self.outcomes } else { &self.experts };
                target.upsert(id, &self.analyzer.weighted_document(&refs), !self.supplies.contains_key(&id))?;
            }
            self.supplies.insert(id, profile);
        } else if let Some(profile) = DemandProfile::from_record(record) {
            if index {
                let parts = profile.query_text();
                let refs: Vec<(&str, u32)> = parts.iter().map(|(t, w)| (t.as_str(), *w)).collect();
                self.demands_index.upsert(id, &self.analyzer.weighted(&refs), !self.demands.contains(&id))?;
            }
            self.demands.insert(id);
        } else if record.meta.deleted {
            self.supplies.remove(&id);
            self.demands.remove(&id);
            for index in [&self.outcomes, &self.experts, &self.demands_index] {
                index.remove(id);
            }
        }
        Ok(())
    }

    /// Forgets the memberships of team `id`.
    fn leave_teams(&mut self, id: RecordId) {
        let Some(SupplyProfile { members, .. }) = self.supplies.get(&id) else { return };
        for member in members {
            if let Some(teams) = self.teams.get_mut(member) {
                teams.retain(|t| *t != id);
                if teams.is_empty() {
                    self.teams.remove(member);
                }
            }
        }
    }

    /// The teams expert `id` serves in.
    pub fn teams_of(&self, id: &RecordId) -> &[RecordId] {
        self.teams.get(id).map_or(&[], Vec::as_slice)
    }

    /// Whether a society recommends outcome `id` (推荐).
    pub fn recommended(&self, id: &RecordId) -> bool {
        self.recommended.contains_key(id)
    }

    /// Makes every upsert searchable.
    pub fn commit(&self) -> Result<()> {
        for index in [&self.outcomes, &self.experts, &self.demands_index] {
            index.commit()?;
        }
        Ok(())
    }

    /// How many documents the index holds: outcomes, experts, demands.
    pub fn sizes(&self) -> (u64, u64, u64) {
        (self.outcomes.docs(), self.experts.docs(), self.demands_index.docs())
    }

    /// A supply's profile.
    pub fn supply(&self, id: &RecordId) -> Option<&SupplyProfile> {
        self.supplies.get(id)
    }

    /// Open demands whose text is close to the supply `id` (for matching
    /// new supply against open demands), best first.
    pub fn demands_for(&self, record: &Record, limit: usize) -> Result<Vec<RecordId>> {
        let parts = SupplyProfile::index_text(record);
        let refs: Vec<(&str, u32)> = parts.iter().map(|(t, w)| (t.as_str(), *w)).collect();
        let (hits, _) = self.demands_index.search(&self.analyzer.weighted(&refs), limit)?;
        Ok(hits.into_iter().map(|(id, _)| id).collect())
    }

    /// Records of `catalogue` whose text is closest to `text`, best first,
    /// with their relevance relative to the best (1.0): the same analysis
    /// of the words as matching's.
    pub fn search(&self, catalogue: Catalogue, text: &str, limit: usize) -> Result<Vec<(RecordId, f64)>> {
        let query = self.analyzer.weighted(&[(text, 1)]);
        if query.is_empty() {
            return Ok(Vec::new());
        }
        let index = match catalogue {
            Catalogue::Demands => &self.demands_index,
            Catalogue::Outcomes => &self.outcomes,
            Catalogue::Experts => &self.experts,
        };
        let (hits, _) = index.search(&query, limit)?;
        let best = hits.first().map_or(1.0, |(_, s)| *s).max(f32::EPSILON);
        Ok(hits.into_iter().map(|(id, s)| (id, f64::from(s / best))).collect())
    }

    /// How much of `query` each of `hits` covers (its share of a perfect
    /// match), by the index's term statistics blended with those of Chinese
    /// at large while the index is small (see [`Params::background_docs`]).
    fn strength(
        &self,
        view: &mut View,
        hits: &[(RecordId, f32)],
        ideal: f32,
        query: &HashMap<String, u32>,
    ) -> Result<HashMap<RecordId, f64>> {
        let background = self.params.background_docs;
        if view.documents() as f64 >= BLEND_FADES * background {
            let of = |s: f32| if ideal > 0.0 { f64::from(s / ideal) } else { 0.0 };
            return Ok(hits.iter().map(|(id, s)| (*id, of(*s))).collect());
        }
        let ids: Vec<RecordId> = hits.iter().map(|(id, _)| *id).collect();
        let blended = view.blended_strength(&ids, query, |t| self.analyzer.background_share(t), background as f32)?;
        Ok(blended.into_iter().map(|(id, s)| (id, f64::from(s))).collect())
    }

    /// Every candidate for `demand`, best first; `today` bounds expert availability.
    pub fn rank(&self, demand: &DemandProfile, today: Date) -> Result<Vec<Candidate>> {
        let p = &self.params;
        let parts = demand.query_text();
        let refs: Vec<(&str, u32)> = parts.iter().map(|(t, w)| (t.as_str(), *w)).collect();
        let query = self.analyzer.weighted(&refs);
        let characters = self.analyzer.weighted_characters(&refs);

        // Outcomes: text, refined by the keywords of the best hits.
        let mut outcomes = self.outcomes.view();
        let (first, ideal) = outcomes.search(&query, p.fetch)?;
        let mut text: HashMap<RecordId, f64> = normalise(&first.iter().map(|(id, s)| (*id, f64::from(*s))).collect());
        let strength = self.strength(&mut outcomes, &first, ideal, &query)?;
        if p.feedback > 0 && !first.is_empty() {
            let mut expanded = query.clone();
            for (id, _) in first.iter().take(p.feedback) {
                if let Some(s) = self.supplies.get(id) {
                    for term in self.analyzer.terms(&s.keywords.join(" ")) {
                        *expanded.entry(term).or_insert(0) += 1;
                    }
                }
            }
            let (second, _) = outcomes.search(&expanded, p.fetch)?;
            let second = normalise(&second.iter().map(|(id, s)| (*id, f64::from(*s))).collect());
            let mut both = HashMap::new();
            for id in text.keys().chain(second.keys()) {
                both.insert(*id, text.get(id).unwrap_or(&0.0) + second.get(id).unwrap_or(&0.0));
            }
            text = normalise(&both);
        }
        let text = self.with_characters(&mut outcomes, text, &characters)?;
        let wanted = self.demand_words(demand);
        let mut outcome_scores = HashMap::new();
        for (id, t) in &text {
            let Some(s) = self.supplies.get(id) else { continue };
            // Two of the demand's words in what the outcome rules out is a clear "not this".
            let ruled_out = s.excluded.iter().filter(|w| wanted.contains(*w)).count();
            let penalty = p.excluded * (ruled_out as f64 / 2.0).min(1.0);
            let recommended = if self.recommended(id) { p.recommended } else { 0.0 };
            outcome_scores.insert(*id, t + self.structure(demand, s) - penalty + recommended);
        }
        let outcome_scores = normalise(&outcome_scores);

        // Experts: text, region, availability, and the link to the best outcomes.
        let mut experts = self.experts.view();
        let (expert_hits, expert_ideal) = experts.search(&query, p.fetch)?;
        let expert_text: HashMap<RecordId, f64> =
            normalise(&expert_hits.iter().map(|(id, s)| (*id, f64::from(*s))).collect());
        let expert_text = self.with_characters(&mut experts, expert_text, &characters)?;
        let mut expert_strength = self.strength(&mut experts, &expert_hits, expert_ideal, &query)?;
        let mut best_outcomes: Vec<(&RecordId, &f64)> = outcome_scores.iter().collect();
        best_outcomes.sort_by(|a, b| b.1.total_cmp(a.1).then(a.0.cmp(b.0)));
        let mut link: HashMap<RecordId, f64> = HashMap::new();
        for (id, score) in best_outcomes.iter().take(3) {
            // Only an outcome that really matches vouches for its institution's experts.
            if strength.get(*id).copied().unwrap_or(0.0) < crate::plan::FLOOR {
                continue;
            }
            let Some(outcome) = self.supplies.get(id) else { continue };
            let topic = self.analyzer.weighted(&[(outcome.title.as_str(), 1), (&outcome.keywords.join(" "), 2)]);
            let (hits, _) = experts.search(&topic, p.fetch)?;
            let similar = normalise(&hits.into_iter().map(|(id, s)| (id, f64::from(s))).collect());
            for (expert, sim) in similar {
                let same_institution = self
                    .supplies
                    .get(&expert)
                    .is_some_and(|e| !e.institution.is_empty() && e.institution == outcome.institution);
                if same_institution {
                    let value = **score * sim.sqrt();
                    let entry = link.entry(expert).or_insert(0.0);
                    *entry = entry.max(value);
                    expert_strength.entry(expert).or_insert(strength.get(*id).copied().unwrap_or(0.0) * sim);
                }
            }
        }
        let mut expert_scores = HashMap::new();
        for id in expert_text.keys().chain(link.keys()) {
            let Some(s) = self.supplies.get(id) else { continue };
            let value = expert_text.get(id).unwrap_or(&0.0)
                + p.expert_link * link.get(id).unwrap_or(&0.0)
                + p.proximity * proximity(tier(demand.region, s.region))
                - if available(s, today, demand.deadline) { 0.0 } else { 0.5 };
            expert_scores.insert(*id, value);
        }
        let expert_scores = normalise(&expert_scores);

        let mut out: Vec<Candidate> = outcome_scores
            .iter()
            .map(|(id, score)| (id, score, strength.get(id).copied().unwrap_or(0.0)))
            .chain(expert_scores.iter().map(|(id, score)| (id, score, expert_strength.get(id).copied().unwrap_or(0.0))))
            .filter_map(|(id, score, strength)| {
                let s = self.supplies.get(id)?;
                Some(Candidate {
                    supply: *id,
                    kind: s.kind,
                    score: *score,
                    strength,
                    tier: tier(demand.region, s.region),
                    linked: link.contains_key(id),
                })
            })
            .collect();
        out.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.supply.cmp(&b.supply)));
        Ok(out)
    }

    /// Normalised `text` scores with the shared `characters` of the
    /// [`CHARACTER_RERANK`] best added.
    fn with_characters(
        &self,
        view: &mut View,
        text: HashMap<RecordId, f64>,
        characters: &HashMap<String, u32>,
    ) -> Result<HashMap<RecordId, f64>> {
        let weight = self.params.characters;
        if weight == 0.0 || text.is_empty() {
            return Ok(text);
        }
        let mut ranked: Vec<(&RecordId, &f64)> = text.iter().collect();
        ranked.sort_by(|a, b| b.1.total_cmp(a.1).then(a.0.cmp(b.0)));
        let ids: Vec<RecordId> = ranked.iter().take(CHARACTER_RERANK).map(|(id, _)| **id).collect();
        let shared = view.scores_of(&ids, characters)?;
        let shared = normalise(&shared.into_iter().map(|(id, s)| (id, f64::from(s))).collect());
        let combined: HashMap<RecordId, f64> =
            text.iter().map(|(id, t)| (*id, t + weight * shared.get(id).copied().unwrap_or(0.0))).collect();
        Ok(normalise(&combined))
    }

    /// The structural part of an outcome's score.
    fn structure(&self, demand: &DemandProfile, s: &SupplyProfile) -> f64 {
        let p = &self.params;
        let mut score = 0.0;
        if let Some(industry) = &s.industry {
            if industry.division() == demand.industry.division() {
                score += p.same_division;
            }
            if industry.section() == demand.industry.section() {
                score += p.same_section;
            }
        }
        if let Some(trl) = s.trl {
            score += match i16::from(trl.get()) - i16::from(demand.min_trl.get()) {
                gap if gap < 0 => -1.0,
                0 | 1 => p.trl_fit,
                2 => p.trl_fit / 2.0,
                _ => 0.0,
            };
        }
        if let (Some(price), Some(budget)) = (s.price_wan, demand.budget_wan)
            && price <= 1.5 * budget
        {
            score += p.price_fit;
        }
        score + p.proximity * proximity(tier(demand.region, s.region))
    }

    /// The words of two characters or more in `demand`'s text.
    fn demand_words(&self, demand: &DemandProfile) -> HashSet<String> {
        self.analyzer
            .long_words(&format!("{} {} {}", demand.title, demand.description, demand.keywords.join(" ")))
            .into_iter()
            .collect()
    }

    /// Why `candidate` is proposed for `demand`, in the operators' language
    /// (computed for proposals only: it segments both texts).
    pub fn explain(&self, demand: &DemandProfile, candidate: &Candidate) -> String {
        let Some(s) = self.supplies.get(&candidate.supply) else { return String::new() };
        let linked = candidate.linked;
        let mut reasons = Vec::new();
        let wanted = self.demand_words(demand);
        let mut matched: Vec<String> = Vec::new();
        for w in self.analyzer.words(&format!("{} {}", s.title, s.keywords.join(" "))) {
            if wanted.contains(&w) && !matched.contains(&w) {
                matched.push(w);
            }
        }
        // Longest first, and no word that is part of one already shown (锂电 in 锂电池).
        matched.sort_by_key(|w| std::cmp::Reverse(w.chars().count()));
        let mut shown: Vec<String> = Vec::new();
        for w in matched {
            if !shown.iter().any(|s| s.contains(w.as_str())) {
                shown.push(w);
            }
        }
        let mut matched = shown;
        matched.truncate(5);
        if !matched.is_empty() {
            reasons.push(format!("匹配词：{}", matched.join("、")));
        }
        if let Some(industry) = &s.industry {
            if industry.division() == demand.industry.division() {
                reasons.push(format!("同行业（{}）", demand.industry.division()));
            } else if industry.section() == demand.industry.section() {
                reasons.push(format!("同门类（{}）", demand.industry.section()));
            }
        }
        if let Some(trl) = s.trl {
            let fit = if trl >= demand.min_trl { "满足" } else { "低于" };
            reasons.push(format!("TRL {} {}需求 ≥{}", trl.get(), fit, demand.min_trl.get()));
        }
        if let (Some(price), Some(budget)) = (s.price_wan, demand.budget_wan) {
            reasons.push(format!("报价 {price} 万元 / 预算 {budget} 万元"));
        }
        if linked {
            reasons.push(format!("所在单位持有相关成果（{}）", s.institution));
        }
        if self.recommended(&candidate.supply) {
            reasons.push("学会评估：推荐".to_owned());
        }
        if s.kind == SupplyKind::Team {
            reasons.push(format!("服务团（{} 位专家）", s.members.len()));
        }
        reasons.push(
            match tier(demand.region, s.region) {
                Tier::City => "层级：同城",
                Tier::Province => "层级：同省",
                Tier::National => "层级：跨省",
            }
            .to_owned(),
        );
        reasons.join("；")
    }
}

/// Whether an expert has a window between `today` and the deadline (any
/// window from today on, when there is no deadline; experts who state no
/// windows are taken as available).
fn available(s: &SupplyProfile, today: Date, deadline: Option<Date>) -> bool {
    s.available.is_empty() || s.available.iter().any(|w| w.to >= today && deadline.is_none_or(|d| w.from <= d))
}
