# Extra reference output for the strokecell MMRM engine: R nlme::gls fits of fev_data
# with structures beyond us/cs/ar1 (csh, ar1h, toep, toeph) and a weighted us fit:
# -2 log-likelihood, covariance, coefficients and their SEs. Run from this folder:
#   Rscript make_nlme_structures.R ../../../../../shared/reference/mmrm/fev_data.csv
# Output: nlme_structures.json next to this script. R 4.2, nlme, jsonlite (Debian packages).
suppressMessages(library(nlme))
args <- commandArgs(trailingOnly = TRUE)
d <- read.csv(args[1])
d <- d[!is.na(d$FEV1), ]
d$AVISIT <- factor(d$AVISIT, levels = c("VIS1", "VIS2", "VIS3", "VIS4"))
d$ARMCD <- factor(d$ARMCD, levels = c("PBO", "TRT"))
d$RACE <- factor(d$RACE); d$SEX <- factor(d$SEX)
d$t <- as.integer(d$AVISIT)
d$INVW <- 1 / d$WEIGHT
f <- FEV1 ~ ARMCD * AVISIT + RACE + SEX
ctl <- glsControl(maxIter = 500, msMaxIter = 500, tolerance = 1e-10, msTol = 1e-10)
fits <- list(
  csh = list(cor = corCompSymm(form = ~ 1 | USUBJID), w = varIdent(form = ~ 1 | AVISIT)),
  ar1h = list(cor = corAR1(form = ~ t | USUBJID), w = varIdent(form = ~ 1 | AVISIT)),
  toep = list(cor = corARMA(form = ~ t | USUBJID, p = 3), w = NULL),
  toeph = list(cor = corARMA(form = ~ t | USUBJID, p = 3), w = varIdent(form = ~ 1 | AVISIT)),
  us_weighted = list(cor = corSymm(form = ~ t | USUBJID),
                     w = varComb(varIdent(form = ~ 1 | AVISIT), varFixed(~ INVW)))
)
out <- list(source = "R nlme::gls, see make_nlme_structures.R", fits = list())
for (nm in names(fits)) {
  for (reml in c(TRUE, FALSE)) {
    spec <- fits[[nm]]
    m <- gls(f, data = d, correlation = spec$cor, weights = spec$w,
             method = if (reml) "REML" else "ML", control = ctl)
    full <- names(which(table(as.character(d$USUBJID)) == 4))[1]  # all four visits
    V <- getVarCov(m, individual = full)
    out$fits[[length(out$fits) + 1]] <- list(
      cov = nm, reml = reml, neg2_loglik = -2 * as.numeric(logLik(m)),
      covariance = if (nm == "us_weighted") NULL else unname(matrix(as.numeric(V), nrow(V))),
      coefficients = as.list(coef(m)), se = as.list(sqrt(diag(vcov(m))))
    )
  }
}
writeLines(jsonlite::toJSON(out, auto_unbox = TRUE, digits = 15, pretty = TRUE),
           "nlme_structures.json")
