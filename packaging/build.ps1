# Build the app on Windows in a venv of its own (.venv-build), into dist\.
#   powershell -File packaging\build.ps1 [--lean [--onefile]]
$ErrorActionPreference = "Stop"
Set-Location (Join-Path $PSScriptRoot "..")
$python = ".venv-build\Scripts\python.exe"
if (-not (Test-Path $python)) { py -3 -m venv .venv-build }
& $python -m pip install --quiet --upgrade pip
& $python -m pip install --quiet -e ".[build]"
& $python packaging\build.py @args
exit $LASTEXITCODE
