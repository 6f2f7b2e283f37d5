# Jupyter server settings for this project's notebooks; `make lab` loads this folder through
# JUPYTER_CONFIG_PATH (your own ~/.jupyter settings still apply and win where they set the same thing).
#
# Every save, by hand or autosave, drops widget views and saved widget state from the notebook
# (sonet_policy.files.notebooks.strip_widgets): reopened the next day, a notebook shows each app's plain-text
# summary instead of "Error displaying widget: model not found", and git sees no widget blobs.
c = get_config()  # noqa: F821 - provided by Jupyter when it loads this file
c.ContentsManager.pre_save_hook = "sonet_policy.files.notebooks.pre_save_hook"
