# SPDX-License-Identifier: MPL-2.0
# Small configure helpers: compiler-flag probes and dependency checks that
# name the Debian package to install when something is missing.

# KTD_CHECK_CFLAG(FLAG, VAR, [ACTION-IF-NOT])
# Append FLAG to VAR when the C compiler accepts it (with -Werror, so that
# an unknown warning option is not silently kept).
AC_DEFUN([KTD_CHECK_CFLAG], [
	AS_VAR_PUSHDEF([ktd_cv], [ktd_cv_cflag_$1])
	AC_CACHE_CHECK([whether $CC accepts $1], [ktd_cv], [
		ktd_save_CFLAGS=$CFLAGS
		CFLAGS="$CFLAGS -Werror $1"
		AC_LINK_IFELSE([AC_LANG_PROGRAM([], [])],
			[AS_VAR_SET([ktd_cv], [yes])], [AS_VAR_SET([ktd_cv], [no])])
		CFLAGS=$ktd_save_CFLAGS
	])
	AS_VAR_IF([ktd_cv], [yes], [$2="$$2 $1"], [$3])
	AS_VAR_POPDEF([ktd_cv])
])

# KTD_CHECK_LDFLAG(FLAG, VAR)
AC_DEFUN([KTD_CHECK_LDFLAG], [
	AS_VAR_PUSHDEF([ktd_cv], [ktd_cv_ldflag_$1])
	AC_CACHE_CHECK([whether the linker accepts $1], [ktd_cv], [
		ktd_save_LDFLAGS=$LDFLAGS
		LDFLAGS="$LDFLAGS -Werror $1"
		AC_LINK_IFELSE([AC_LANG_PROGRAM([], [])],
			[AS_VAR_SET([ktd_cv], [yes])], [AS_VAR_SET([ktd_cv], [no])])
		LDFLAGS=$ktd_save_LDFLAGS
	])
	AS_VAR_IF([ktd_cv], [yes], [$2="$$2 $1"])
	AS_VAR_POPDEF([ktd_cv])
])

# KTD_WANT_PKG(PREFIX, MODULE-SPEC, DEBIAN-PACKAGE)
# A required pkg-config module; a missing one stops configure with the
# Debian package that provides it.
AC_DEFUN([KTD_WANT_PKG], [
	PKG_CHECK_MODULES([$1], [$2], [], [
		AC_MSG_ERROR([$2 not found ($$1_PKG_ERRORS).
On Debian, install it with: apt-get install $3])
	])
])
