# Reference output of R metafor for the meta-analysis tests beyond dat_bcg_metafor.json.
# Run from this folder:  Rscript make_metafor_extra.R   (writes metafor_extra.json)
# Data sets from metadat (shipped with metafor): dat.bcg, dat.normand1999 (stroke units),
# dat.pritz1997 (proportions), dat.yusuf1985 (table 6, zero cells).
suppressPackageStartupMessages({library(metafor); library(jsonlite)})

tight <- list(threshold = 1e-12, maxiter = 10000, tol = 1e-12)
methods <- c("EE", "DL", "REML", "ML", "PM", "HE", "SJ", "HS", "EB")

fitinfo <- function(res, pred = TRUE) {
  out <- list(estimate = c(res$beta), se = res$se, ci_lb = res$ci.lb, ci_ub = res$ci.ub,
              pval = res$pval, tau2 = res$tau2, se_tau2 = res$se.tau2, I2 = res$I2,
              H2 = res$H2, Q = res$QE, Q_pval = res$QEp, k = res$k)
  if (pred && res$int.only && res$method != "EE") {
    p <- predict(res)
    out$pi_lb <- p$pi.lb; out$pi_ub <- p$pi.ub
  }
  fs <- fitstats(res)[, 1]
  out$fit_stats <- list(ll = fs[[1]], dev = fs[[2]], AIC = fs[[3]], BIC = fs[[4]],
                        AICc = fs[[5]])
  if (!res$int.only) {
    out$coef_names <- rownames(res$beta); out$QM <- res$QM; out$QM_pval <- res$QMp
    out$R2 <- res$R2
  }
  out
}

dsets <- list()
bcg <- dat.bcg
dsets$bcg_RR <- escalc("RR", ai = tpos, bi = tneg, ci = cpos, di = cneg, data = bcg)
dsets$bcg_OR <- escalc("OR", ai = tpos, bi = tneg, ci = cpos, di = cneg, data = bcg)
dsets$bcg_RD <- escalc("RD", ai = tpos, bi = tneg, ci = cpos, di = cneg, data = bcg)
dsets$normand_MD <- escalc("MD", m1i = m1i, sd1i = sd1i, n1i = n1i, m2i = m2i, sd2i = sd2i,
                           n2i = n2i, data = dat.normand1999)
dsets$normand_SMD <- escalc("SMD", m1i = m1i, sd1i = sd1i, n1i = n1i, m2i = m2i, sd2i = sd2i,
                            n2i = n2i, data = dat.normand1999)
dsets$pritz_PLO <- escalc("PLO", xi = xi, ni = ni, data = dat.pritz1997)
yus <- dat.yusuf1985[dat.yusuf1985$table == "6", ]
dsets$yusuf_OR <- escalc("OR", ai = ai, n1i = n1i, ci = ci, n2i = n2i, data = yus)
dsets$yusuf_RR <- escalc("RR", ai = ai, n1i = n1i, ci = ci, n2i = n2i, data = yus)

out <- list(metafor_version = as.character(packageVersion("metafor")),
            control_tight = tight, data = list(), escalc = list(), models = list())
out$data$bcg <- bcg
out$data$normand <- dat.normand1999[, c("study", "n1i", "m1i", "sd1i", "n2i", "m2i", "sd2i")]
out$data$pritz <- dat.pritz1997[, c("study", "xi", "ni")]
out$data$yusuf <- yus[, c("id", "ai", "n1i", "ci", "n2i")]

for (nm in names(dsets)) {
  d <- dsets[[nm]]
  out$escalc[[nm]] <- list(yi = c(d$yi), vi = c(d$vi))
  for (m in methods) for (tst in c("z", "knha")) {
    one <- list(data = nm, method = m, test = tst)
    r1 <- try(rma(yi, vi, data = d, method = m, test = tst, control = tight), silent = TRUE)
    r0 <- try(rma(yi, vi, data = d, method = m, test = tst), silent = TRUE)
    if (inherits(r1, "try-error") || inherits(r0, "try-error")) next
    one$tight <- fitinfo(r1)
    one$default <- fitinfo(r0)
    out$models[[length(out$models) + 1]] <- one
  }
}

# meta-regression with a continuous and a categorical moderator
d <- dsets$bcg_RR
for (m in c("EE", "DL", "REML", "ML", "PM", "SJ", "HE", "EB", "HS")) for (tst in c("z", "knha")) {
  r1 <- rma(yi, vi, mods = ~ ablat + alloc, data = d, method = m, test = tst, control = tight)
  r0 <- rma(yi, vi, mods = ~ ablat + alloc, data = d, method = m, test = tst)
  out$models[[length(out$models) + 1]] <- list(data = "bcg_RR", method = m, test = tst,
    mods = c("ablat", "alloc"), tight = fitinfo(r1), default = fitinfo(r0))
}

# diagnostics on the REML model (tight control)
res <- rma(yi, vi, data = d, method = "REML", control = tight)
inf <- influence(res)
l1o <- leave1out(res)
out$diagnostics <- list(
  influence = list(rstudent = inf$inf$rstudent, dffits = inf$inf$dffits,
                   cook_d = inf$inf$cook.d, cov_r = inf$inf$cov.r,
                   tau2_del = inf$inf$tau2.del, QE_del = inf$inf$QE.del, hat = inf$inf$hat,
                   weight = inf$inf$weight, dfbetas = inf$dfbs$intrcpt),
  leave1out = list(estimate = l1o$estimate, se = l1o$se, pval = l1o$pval, ci_lb = l1o$ci.lb,
                   ci_ub = l1o$ci.ub, Q = l1o$Q, Q_pval = l1o$Qp, tau2 = l1o$tau2,
                   I2 = l1o$I2, H2 = l1o$H2))
eg <- regtest(res)
eg_lm <- regtest(res, model = "lm")
out$diagnostics$regtest <- list(stat = eg$zval, pval = eg$pval, limit_estimate = eg$est,
                                limit_ci_lb = eg$ci.lb, limit_ci_ub = eg$ci.ub)
out$diagnostics$regtest_lm <- list(stat = eg_lm$zval, pval = eg_lm$pval, df = eg_lm$dfs)
tf <- trimfill(res)
out$diagnostics$trimfill <- list(k0 = tf$k0, se_k0 = tf$se.k0, side = tf$side,
                                 estimate = c(tf$beta), se = tf$se, tau2 = tf$tau2,
                                 filled_yi = tf$yi[tf$fill])
resk <- rma(yi, vi, data = d, method = "DL", test = "knha", control = tight)
infk <- influence(resk)
out$diagnostics$influence_dl_knha <- list(rstudent = infk$inf$rstudent,
  dffits = infk$inf$dffits, cook_d = infk$inf$cook.d, cov_r = infk$inf$cov.r,
  tau2_del = infk$inf$tau2.del, hat = infk$inf$hat, dfbetas = infk$dfbs$intrcpt)

write_json(out, "metafor_extra.json", digits = NA, auto_unbox = TRUE, pretty = TRUE,
           null = "null", na = "null")
