# Kenward-Roger and Satterthwaite reference for the strokecell MMRM engine.
# A random-intercept model is the compound-symmetry MMRM: Sigma = s_b^2 J + s^2 I, linear in
# SAS's CS parameters (CS = s_b^2, Residual = s^2), so its KR adjustment has no
# second-derivative term in either program. lmerTest (Satterthwaite) and pbkrtest (KR).
# Run from this folder:
#   Rscript make_lmer_kr.R ../../../../../shared/reference/mmrm/fev_data.csv
# Output: lmer_kr.json beside this script. R 4.2 with Debian's r-cran-lme4, r-cran-pbkrtest,
# r-cran-lmertest, r-cran-jsonlite.
suppressMessages({library(lmerTest); library(pbkrtest)})
args <- commandArgs(trailingOnly = TRUE)
d <- read.csv(args[1])
d <- d[!is.na(d$FEV1), ]
d$AVISIT <- factor(d$AVISIT, levels = c("VIS1", "VIS2", "VIS3", "VIS4"))
d$ARMCD <- factor(d$ARMCD, levels = c("PBO", "TRT"))
d$RACE <- factor(d$RACE); d$SEX <- factor(d$SEX)
m <- lmer(FEV1 ~ ARMCD * AVISIT + RACE + SEX + (1 | USUBJID), data = d, REML = TRUE,
          control = lmerControl(optimizer = "bobyqa", optCtrl = list(maxfun = 1e5)))
skr <- summary(m, ddf = "Kenward-Roger")$coefficients
ssa <- summary(m, ddf = "Satterthwaite")$coefficients
akr <- anova(m, type = 3, ddf = "Kenward-Roger")
asa <- anova(m, type = 3, ddf = "Satterthwaite")
tab <- function(a) lapply(rownames(a), function(r) list(
  term = r, num_df = a[r, "NumDF"], den_df = a[r, "DenDF"], F = a[r, "F value"]))
co <- function(s) lapply(rownames(s), function(r) list(
  term = r, estimate = s[r, "Estimate"], se = s[r, "Std. Error"], df = s[r, "df"]))
vc <- as.data.frame(VarCorr(m))
out <- list(
  source = "R lme4::lmer + lmerTest + pbkrtest, see make_lmer_kr.R",
  model = "FEV1 ~ ARMCD * AVISIT + RACE + SEX + (1 | USUBJID), REML",
  neg2_reml = as.numeric(REMLcrit(m)),
  cs = list(between = vc$vcov[1], residual = vc$vcov[2]),
  coefficients_kr = co(skr), coefficients_satterthwaite = co(ssa),
  type3_kr = tab(akr), type3_satterthwaite = tab(asa)
)
writeLines(jsonlite::toJSON(out, auto_unbox = TRUE, digits = 15, pretty = TRUE), "lmer_kr.json")
